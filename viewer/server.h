// The viewer's HTTP/1.1 server on Boost.Beast. Each worker thread runs its own io_context and owns
// a read-only TraceStore connection: a connection accepted for a worker is answered on that worker,
// so no store is shared between threads. SQLite's WAL mode lets these readers run beside a training
// run that writes the same file, neither blocking the other.
#pragma once

#include <memory>
#include <string>

namespace r1::viewer {

struct ServerOptions {
  std::string db;                 // the trace database; must exist
  std::string host = "127.0.0.1"; // address or name to bind
  int port = 8080;                // 0: any free port (Server::port() says which)
  int threads = 2;                // worker threads, each with its own store connection

  void validate() const;  // UserError naming the bad option or the missing file
};

class Server {
 public:
  // Opens the store for every worker, binds and starts serving. UserError when the database is
  // missing or not an r1 store, or the address cannot be bound (the port is in use).
  explicit Server(const ServerOptions& options);
  ~Server();  // stop(), then joins every thread
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;
  std::string url() const;  // "http://HOST:PORT"

  void stop_on_signals();  // from now on SIGINT and SIGTERM stop the server (the CLI; tests call stop())
  void wait();             // blocks until the server is stopped
  void stop();             // from any thread, any number of times

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1::viewer
