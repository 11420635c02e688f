// CRC-32 of a concatenation from the CRCs of its parts, so that the pieces of a large file
// can be checksummed on different threads. Arithmetic in GF(2) modulo the CRC-32
// polynomial (reflected, 0xEDB88320), with bit 31 standing for x^0.

const POLY = 0xedb88320

/** a·b modulo the polynomial. */
function multiplyModP(a: number, b: number): number {
  let product = 0
  for (let mask = 0x80000000; mask !== 0; mask >>>= 1) {
    if ((a & mask) !== 0) product ^= b
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1
  }
  return product >>> 0
}

/** X_POWERS[k] = x^(2^k) modulo the polynomial. */
const X_POWERS: number[] = (() => {
  const powers = [0x40000000] // x^1
  for (let k = 1; k < 64; k++) {
    const last = powers[k - 1] as number
    powers.push(multiplyModP(last, last))
  }
  return powers
})()

/** x^(n·2^k) modulo the polynomial. */
function xPowerModP(n: number, k: number): number {
  let power = 0x80000000 // x^0
  while (n > 0) {
    if (n % 2 === 1) power = multiplyModP(X_POWERS[k % 64] as number, power)
    n = Math.floor(n / 2)
    k++
  }
  return power
}

/** The CRC-32 of A followed by B, from crc(A), crc(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  // Appending lengthB bytes multiplies A's remainder by x^(8·lengthB).
  return (multiplyModP(xPowerModP(lengthB, 3), crcA) ^ crcB) >>> 0
}
