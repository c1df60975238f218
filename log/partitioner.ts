/**
 * Key-to-partition mapping shared by both log backends. It reproduces the
 * default partitioner of the Java Kafka client (and kafkajs's
 * DefaultPartitioner), so a key lands on the same partition number whether
 * the gateway writes to Kafka or to the embedded log, and tools that reason
 * about partitions (replays, per-key ordering checks) agree across backends.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * The 32-bit murmur2 variant used by Kafka (Utils.murmur2), as a signed
 * 32-bit integer exactly like the Java method returns.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const body = length & ~3;

  for (let i = 0; i < body; i += 4) {
    // Bytes are read little-endian regardless of host order, as Java does.
    let k =
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }

  const tail = length & 3;
  if (tail !== 0) {
    if (tail === 3) h ^= (data[body + 2] as number) << 16;
    if (tail >= 2) h ^= (data[body + 1] as number) << 8;
    h ^= data[body] as number;
    h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner would pick for `key`. */
export function partitionFor(key: Uint8Array, partitions: number): number {
  if (!(partitions >= 1) || partitions !== Math.floor(partitions)) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  // Masking the sign bit (not Math.abs) is what Kafka does; abs would map
  // INT_MIN badly and disagree with the Java client on negative hashes.
  return (murmur2(key) & 0x7fffffff) % partitions;
}
