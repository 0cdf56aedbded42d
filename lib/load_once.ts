/**
 * Something loaded on first use (a library imported only when a feature is used, so an instance
 * that never uses it does not hold it): the first call starts the load, every later call shares
 * it; a load that fails is not remembered, so the next call tries again.
 * @module
 */

/** A function that runs `load` once and hands every caller its result. */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | null = null;
  return () =>
    loading ??= load().catch((error) => {
      loading = null;
      throw error;
    });
}
