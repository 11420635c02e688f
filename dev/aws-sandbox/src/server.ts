/**
 * startSandbox: AWS on this machine. EC2, SSM and ELBv2 front ends (one loopback HTTP server
 * each) over one fleet of directory-instances, a real load balancer per target group, and
 * optionally the S3 (s3rver) and STS stand-ins,
 * all reachable through the standard AWS_ENDPOINT_URL_* variables. STS trusts an OIDC
 * identity provider it is given (GitHub's token service stand-in, in the demo and the tests).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { AccessControl, ec2Authorizer, elbv2Authorizer, ssmAuthorizer } from './access.js'
import { Ec2FrontEnd } from './ec2.js'
import { launchOperations } from './ec2-launch.js'
import { Elbv2FrontEnd } from './elbv2.js'
import { Faults } from './faults.js'
import {
  type FastCommandHandler,
  Fleet,
  type InstanceSpec,
  type SandboxInstance,
} from './instances.js'
import type { PolicyDocument } from './iam-policy.js'
import { serviceEnvironment } from './agent.js'
import { DEFAULT_LAUNCH_SETTINGS, type LaunchSettings, Launcher } from './launch.js'
import { LoadBalancing, type TargetGroupSpec } from './load-balancer.js'
import { type Endpoint, serve } from './protocol.js'
import { S3RVER_CREDENTIALS, startS3, type S3Sandbox } from './s3.js'
import { type SsmSettings, SsmFrontEnd, SsmService } from './ssm.js'
import { type IdentityProvider, startSts, type StsRole, type StsServer } from './sts.js'

/** The sandbox's dummy credentials: the key pair s3rver accepts, so one env serves every service. */
export const SANDBOX_CREDENTIALS = S3RVER_CREDENTIALS

/** Options of startSandbox; everything is optional. */
export interface SandboxOptions {
  /** Instances to create: a count (named `<namePrefix>-1…n`) or one spec per instance. Default 3. */
  instances?: number | InstanceSpec[]
  /** Name tag prefix for counted instances. Default `sandbox`. */
  namePrefix?: string
  /** Tags every counted instance gets besides Name. */
  tags?: Record<string, string>
  /** Where instance directories go; a fresh temp dir (removed on close) by default. */
  rootDir?: string
  region?: string
  accountId?: string
  /** See SsmSettings.invocationVisibilityDelayMs. Default 250. */
  invocationVisibilityDelayMs?: number
  /** See SsmSettings.deliveryTimeoutMs. */
  deliveryTimeoutMs?: number
  /** See SsmSettings.undeliverableAfterMs. Default 50. */
  undeliverableAfterMs?: number
  /** `fast` makes every instance skip the shell (see fastHandler). Default `shell`. */
  commandMode?: 'shell' | 'fast'
  /** Result of fast-mode commands. Default: exit 0, no output. */
  fastHandler?: FastCommandHandler
  /** Directories every instance has for its own (see InstanceSpec.privateDirs), e.g. ['/opt']. */
  privateDirs?: string[]
  /** Environment every command gets on every instance (merged over the sandbox's AWS env). */
  instanceEnv?: Record<string, string>
  /** Seed of the PRNG behind rate throttling. */
  seed?: number
  /** Start s3rver with these buckets (and bucket policies) and export AWS_ENDPOINT_URL_S3. */
  s3?: { buckets: string[]; bucketPolicies?: Record<string, PolicyDocument> }
  /**
   * Start the STS stand-in (AWS_ENDPOINT_URL_STS) with these roles, trusting the tokens of
   * `identityProvider` (GitHub's token service stand-in, say: its issuer and public key).
   */
  sts?: { roles: StsRole[]; identityProvider: IdentityProvider; providerAudiences?: string[] }
  /**
   * What RunInstances launches (see LaunchSettings): the spec of a launched instance (on top
   * of `privateDirs` and `commandMode`) and the boot's timings.
   */
  launch?: Partial<LaunchSettings>
  /** Target groups to create, each with its load balancer (more: sandbox.elbv2.createTargetGroup). */
  targetGroups?: TargetGroupSpec[]
}

/** Environment variables that point the AWS SDK and the AWS CLI at the sandbox. */
export interface SandboxEnv {
  AWS_ENDPOINT_URL_EC2: string
  AWS_ENDPOINT_URL_SSM: string
  /** The SDK's service id "Elastic Load Balancing v2", upper-cased, spaces as underscores. */
  AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: string
  AWS_ACCESS_KEY_ID: string
  AWS_SECRET_ACCESS_KEY: string
  AWS_REGION: string
  AWS_DEFAULT_REGION: string
  AWS_EC2_METADATA_DISABLED: string
  AWS_ENDPOINT_URL_S3?: string
  AWS_ENDPOINT_URL_STS?: string
}

/** A running sandbox. */
export interface Sandbox {
  /** Merge into a child's environment (or print as `export` lines). */
  env: SandboxEnv
  region: string
  accountId: string
  fleet: Fleet
  /** The instances created at start, in order. */
  instances: SandboxInstance[]
  ssm: SsmService
  /** Target groups and their load balancers (ELBv2). */
  elbv2: LoadBalancing
  /** Throttling/latency knobs and call counters shared by every service. */
  faults: Faults
  s3: S3Sandbox | undefined
  sts: StsServer | undefined
  /** Credentials issued for roles with a `policy`, and the bucket policies in force. */
  access: AccessControl
  /** RunInstances' and TerminateInstances' instances: `launcher.bootOf(id)`, its settings. */
  launcher: Launcher
  /** Stops every server, kills every process the instances started, removes temp dirs. */
  close(): Promise<void>
}

/** The `export NAME='value'` lines for a sandbox's env. */
export function exportLines(env: SandboxEnv): string[] {
  return Object.entries(env)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([name, value]) => `export ${name}='${value.replaceAll("'", `'\\''`)}'`)
}

/** Uploads command output to the local S3 (OutputS3BucketName) and returns its path-style URL. */
function outputUploader(
  s3: S3Sandbox,
  region: string,
  started: { close(): Promise<void> }[],
): (bucket: string, key: string, body: Buffer) => Promise<string> {
  const client = new S3Client({
    region,
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: SANDBOX_CREDENTIALS,
    maxAttempts: 1,
  })
  started.push({ close: async () => client.destroy() })
  return async (bucket, key, body) => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
    return `${s3.url}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`
  }
}

/** Starts the sandbox. Always `close()` it (tests: in afterAll). */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const region = options.region ?? 'us-east-1'
  const accountId = options.accountId ?? '123456789012'
  const ownRoot = options.rootDir === undefined
  const rootDir = options.rootDir ?? mkdtempSync(join(tmpdir(), 'ec2-sandbox-'))
  const fleet = new Fleet({ rootDir, region })
  const faults = new Faults(options.seed ?? 1)
  const specs: InstanceSpec[] =
    typeof options.instances === 'object'
      ? options.instances
      : Array.from({ length: options.instances ?? 3 }, (_, index) => ({
          name: `${options.namePrefix ?? 'sandbox'}-${index + 1}`,
          tags: { ...options.tags },
        }))
  const withDefaults = (spec: InstanceSpec): InstanceSpec => {
    const withDirs = { privateDirs: options.privateDirs ?? [], ...spec }
    return options.commandMode === 'fast'
      ? { ...withDirs, faults: { commandMode: 'fast' as const, ...withDirs.faults } }
      : withDirs
  }
  const instances = specs.map(spec => fleet.add(withDefaults(spec)))

  const started: { close(): Promise<void> }[] = []
  const access = new AccessControl()
  const stopAll = async () => {
    for (const service of started.reverse()) await service.close().catch(() => undefined)
  }
  try {
    let s3: S3Sandbox | undefined
    let sts: StsServer | undefined
    if (options.s3) {
      s3 = await startS3({
        buckets: options.s3.buckets,
        directory: join(rootDir, '.s3'),
        access,
        ...(options.s3.bucketPolicies ? { bucketPolicies: options.s3.bucketPolicies } : {}),
      })
      started.push(s3)
    }
    if (options.sts) {
      if (!options.sts.identityProvider)
        throw new Error(
          "sandbox option sts needs identityProvider: STS verifies web identity tokens with the provider's issuer and public key",
        )
      const s3ForKeys = s3
      sts = await startSts({
        roles: options.sts.roles,
        identityProvider: options.sts.identityProvider,
        ...(options.sts.providerAudiences
          ? { providerAudiences: options.sts.providerAudiences }
          : {}),
        onIssue: (credentials, role, sessionArn) => {
          s3ForKeys?.allowAccessKey(credentials.accessKeyId, credentials.secretAccessKey)
          if (role.policy)
            access.register(credentials.accessKeyId, {
              roleArn: role.arn,
              sessionArn,
              policy: role.policy,
            })
        },
      })
      started.push(sts)
    }

    const baseEnv = {
      AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_EC2_METADATA_DISABLED: 'true',
      ...(s3 ? { AWS_ENDPOINT_URL_S3: s3.url } : {}),
    }
    const settings: SsmSettings = {
      region,
      accountId,
      invocationVisibilityDelayMs: options.invocationVisibilityDelayMs ?? 250,
      deliveryTimeoutMs: options.deliveryTimeoutMs,
      undeliverableAfterMs: options.undeliverableAfterMs ?? 50,
      redeliveryIntervalMs: 500,
      // Instances reach S3 as an instance role would let them: same keys, same endpoint.
      instanceEnv: { ...baseEnv, ...options.instanceEnv },
      fastHandler: options.fastHandler ?? (() => ({ exitCode: 0 })),
      outputUploader: s3 ? outputUploader(s3, region, started) : undefined,
    }
    const ssm = new SsmService(fleet, settings)
    let endpointPorts: number[] = []
    const launcher = new Launcher(
      fleet,
      {
        ...DEFAULT_LAUNCH_SETTINGS,
        ...options.launch,
        spec: withDefaults(options.launch?.spec ?? {}),
      },
      {
        prepare: async instance =>
          instance.network?.forward([...endpointPorts, ...instance.forwardPorts], instance.marker),
        environment: instance => serviceEnvironment(fleet, settings, instance),
        agentOnline: instance => ssm.stateManager.instanceOnline(instance),
      },
    )
    started.push({ close: async () => launcher.close() })
    const ec2Endpoint: Endpoint = await serve(
      new Ec2FrontEnd(
        fleet,
        accountId,
        ec2Authorizer(access),
        launchOperations(launcher, fleet, accountId),
      ),
      faults,
    )
    started.push(ec2Endpoint)
    const ssmEndpoint: Endpoint = await serve(
      new SsmFrontEnd(ssm, ssmAuthorizer(access, fleet, { region, accountId })),
      faults,
    )
    started.push({
      close: async () => {
        ssm.close()
        await ssmEndpoint.close()
      },
    })
    const elbv2 = new LoadBalancing(fleet, { region, accountId })
    started.push(elbv2)
    for (const spec of options.targetGroups ?? []) await elbv2.createTargetGroup(spec)
    const elbv2Endpoint: Endpoint = await serve(
      new Elbv2FrontEnd(elbv2, elbv2Authorizer(access)),
      faults,
    )
    started.push(elbv2Endpoint)
    // Private hosts reach the sandbox's endpoints at the same 127.0.0.1 URLs.
    endpointPorts = [ec2Endpoint, ssmEndpoint, elbv2Endpoint, s3, sts].flatMap(service =>
      service ? [Number(new URL(service.url).port)] : [],
    )
    for (const instance of instances)
      await instance.network?.forward([...endpointPorts, ...instance.forwardPorts], instance.marker)
    const env: SandboxEnv = {
      AWS_ENDPOINT_URL_EC2: ec2Endpoint.url,
      AWS_ENDPOINT_URL_SSM: ssmEndpoint.url,
      AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: elbv2Endpoint.url,
      ...baseEnv,
      ...(sts ? { AWS_ENDPOINT_URL_STS: sts.url } : {}),
    }
    let closed = false
    return {
      env,
      region,
      accountId,
      fleet,
      instances,
      ssm,
      elbv2,
      faults,
      s3,
      sts,
      access,
      launcher,
      close: async () => {
        if (closed) return
        closed = true
        await stopAll()
        fleet.killAllProcesses()
        if (ownRoot) rmSync(rootDir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    await stopAll()
    fleet.killAllProcesses()
    if (ownRoot) rmSync(rootDir, { recursive: true, force: true })
    throw error
  }
}
