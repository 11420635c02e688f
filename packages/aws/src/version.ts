/** The suite's name, as it appears in the user agent of every AWS call. */
export const SUITE_NAME = 'ec2-deploy-actions'

/**
 * The suite's version, kept equal to package.json's by a unit test (a JSON import would
 * pull the whole package.json into every bundle).
 */
export const SUITE_VERSION = '0.1.0'
