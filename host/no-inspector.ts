// Imported first by the CLI, before any other module is evaluated: a SIGUSR1 listener, so that
// SIGUSR1 never opens Node's inspector on 127.0.0.1:9229 (any local user could then run code as
// wspy's user, often root). cli.ts handles the other signals.
// Must not know: anything else.
// Source of truth: Node's docs (process signal events: SIGUSR1 is reserved to start the debugger
// unless a listener is installed).

process.on("SIGUSR1", () => { /* no inspector */ });

export {};
