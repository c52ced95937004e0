# workerd's JS hello, as bench/fast.ts runs it: one worker, one HTTP socket (its address is given
# on the command line: `workerd serve workerd-hello.capnp --socket-addr http=127.0.0.1:<port>`).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .hello)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const hello :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "workerd-hello.js")],
  compatibilityDate = "2026-07-30",
);
