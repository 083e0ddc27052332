/**
 * An AbortSignal that fires on SIGINT or SIGTERM, for entry points (the CLI, the action) that
 * want a run stopped, its process tree killed and its session recorded instead of dying with it.
 * `dispose` removes the handlers once the run is over.
 */
export function abortOnProcessSignals(reason?: string): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const abort = () => controller.abort(reason === undefined ? undefined : new Error(reason));
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", abort);
      process.off("SIGTERM", abort);
    },
  };
}
