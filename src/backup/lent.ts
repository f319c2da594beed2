/**
 * Chunks lent rather than given. A reader that fills the same memory again and again (pipe.ts's
 * ring) lends each chunk with a way to give it back; the stage that has finished with the bytes
 * (the archive's compressor once it consumed them, or its plain meter once it copied them) gives
 * it back, and only then may the memory be filled again. Chunks that pass through other hands
 * keep their identity (stream stages hand on the same Buffer). A chunk never given back (a
 * stream stopped, a reader that is not the archive) only keeps its memory from being refilled.
 * Why: bench:backup's 457 MB dump, read into fresh 1 MiB buffers, was 457 MB for the collector
 * to notice and sweep: about 30 full collections of a heap holding the AWS SDK.
 */
const lenders = new WeakMap<Uint8Array, () => void>();

/** `chunk`, to be given back by {@link giveBack} (once) when its bytes are no longer read. */
export function lend<T extends Uint8Array>(chunk: T, giveBack: () => void): T {
  lenders.set(chunk, giveBack);
  return chunk;
}

/** Says its bytes will not be read again; a chunk that was not lent is left alone. */
export function giveBack(chunk: Uint8Array): void {
  const back = lenders.get(chunk);
  if (back === undefined) return;
  lenders.delete(chunk);
  back();
}
