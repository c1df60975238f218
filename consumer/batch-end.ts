/**
 * Where a consumer batch starting at `from` ends: after `maxMessages`
 * messages, or before the message that would take the value bytes past
 * `maxBytes`. A batch always holds at least one message, and the cut is a
 * pure function of the messages, so a replay from the same offset cuts the
 * same batch (or a longer one when more arrived) and sinks stay idempotent.
 */
export function batchEnd(
  messages: readonly { value: Uint8Array | null }[],
  from: number,
  maxMessages: number,
  maxBytes = Number.POSITIVE_INFINITY,
): number {
  const limit = Math.min(messages.length, from + maxMessages);
  let bytes = 0;
  for (let i = from; i < limit; i++) {
    bytes += messages[i]?.value?.length ?? 0;
    if (bytes > maxBytes && i > from) return i;
  }
  return limit;
}
