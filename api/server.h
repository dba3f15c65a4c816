// The HTTP(S) listener: Boost.Beast over Asio, the only place in Dossier
// that includes Beast (server.cpp). It reads each request's header with a
// fresh parser (8 KiB of headers at most: 431 past that), asks the Service
// what to do, reads the body under the route's cap (413 before reading
// when the announced length is over it; uploads go piece by piece to the
// route's receiver, never whole into memory), runs the handler on the
// lane's thread pool (queries, logins, transfers: a slow download or a
// key derivation never holds up a search), and writes the answer.
// Requests on one connection are answered strictly in order, one at a
// time: the next is read only after the previous answer was written, so
// pipelined requests wait in a read buffer capped at 64 KiB. Every read
// and write has a timer (slow or idle clients are closed), and past
// `max_connections` new connections are closed at once.
// SIGINT and SIGTERM stop accepting, let requests in flight finish (for at
// most `drain`), and return.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "api/service.h"

namespace dossier::api {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // ADDR:PORT; port 0 picks one
  int threads = 0;           // network threads and query workers each (0: one per core)
  int transfer_threads = 8;  // uploads' finishing and downloads
  std::string tls_cert, tls_key;  // PEM files; both or neither
  std::size_t max_connections = 1024;
  std::chrono::seconds header_timeout{15};  // a whole header, or an idle keep-alive
  std::chrono::seconds body_timeout{30};    // between two pieces of a body
  std::chrono::seconds write_timeout{60};   // for each piece written
  std::chrono::seconds drain{10};
  // Called once listening, with the address actually bound ("127.0.0.1:43211").
  std::function<void(const std::string&)> on_listening;
  // Called every few seconds on a network thread (expiring sessions).
  std::function<void()> on_tick;
};

// Serves until SIGINT or SIGTERM. Throws Error(kIo) if it cannot listen
// or load the TLS files, Error(kInvalidArgument) for a bad address.
void Serve(Service& service, const ServerOptions& options);

}  // namespace dossier::api
