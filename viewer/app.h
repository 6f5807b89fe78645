// The viewer's routes: one request in, one response out, answered from a read-only trace store.
// Knows nothing of sockets (server.cpp) or of HTML (pages.h); tests can call it directly.
#pragma once

#include <string>
#include <string_view>

#include "sampling/trace_store.h"
#include "viewer/pages.h"

namespace r1::viewer {

// GET or HEAD on "/" or "/traces", "/trace/ID", "/charts", "/api/traces", "/api/trace/ID",
// "/api/stats"; anything else is a 404 (there is no file serving), another method a 405. Never
// throws: a bad request is a 4xx page naming the problem, a failure a 500 (and a line on stderr).
Response handle_request(std::string_view method, std::string_view target, const sampling::TraceStore& store);

// Whether to answer a request whose Host header is `host_header` on a server bound to `bind_host`.
// Bound to a loopback address, only loopback names are answered: a web page whose own name an
// attacker re-points at 127.0.0.1 (DNS rebinding) would otherwise read the traces through the
// visitor's browser, which always sends that page's name as Host. Bound elsewhere, all are.
bool host_allowed(std::string_view host_header, std::string_view bind_host);

}  // namespace r1::viewer
