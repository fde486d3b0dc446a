/**
 * CRC-32/IEEE (reflected, polynomial 0xEDB88320), the checksum kcp-go puts in
 * its crypt header (`crc32.ChecksumIEEE`, sess.go). Table-driven in TS because
 * `zlib.crc32` only exists from Node 20.15 and the package supports all of 20.x.
 */

const TABLE = buildTable();

function buildTable(): Int32Array {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
}

/** CRC-32/IEEE of `data[start..end)`, as an unsigned 32-bit number. */
export function crc32Ieee(data: Uint8Array, start = 0, end = data.length): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
