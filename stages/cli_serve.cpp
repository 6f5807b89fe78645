// `r1 serve --db FILE`: the local web viewer of a trace store (viewer/). Prints one line,
// "listening on http://HOST:PORT", once it accepts connections, and serves until SIGINT or SIGTERM.
#include <iostream>

#include "stages/cli.h"
#include "viewer/server.h"

namespace r1::cli {

void add_serve_commands(CLI::App& app) {
  auto options = std::make_shared<viewer::ServerOptions>();
  auto* serve = app.add_subcommand("serve", "browse a trace database in a web browser: filter, search, charts");
  serve->add_option("--db", options->db, "trace database, e.g. runs/tiny-zero/traces.db")->required();
  serve->add_option("--host", options->host, "address to listen on")->capture_default_str();
  serve->add_option("--port", options->port, "port to listen on; 0 picks a free one")->capture_default_str();
  serve->add_option("--threads", options->threads, "worker threads, each with its own read-only connection")
      ->capture_default_str();
  serve->callback([options] {
    viewer::Server server(*options);
    server.stop_on_signals();
    std::cout << "listening on " << server.url() << std::endl;  // std::endl: a test or script waits for this line
    server.wait();
  });
}

}  // namespace r1::cli
