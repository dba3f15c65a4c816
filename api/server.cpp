// The one translation unit with Beast (STYLE.md): listener, connections,
// and the bridge between Asio's strands and the Service's thread pools.
// Boost 1.74 has no message_generator: responses are written as
// http::response<string_body>, or as a header followed by raw pieces for a
// streamed body of known length.
#include "api/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <csignal>

#include <algorithm>
#include <array>
#include <atomic>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>

#include "crypto/secret.h"

namespace dossier::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using beast::error_code;

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kReadBuffer = 64 * 1024;  // also bounds pipelined requests
constexpr std::size_t kPiece = 64 * 1024;

// What every connection shares.
struct Shared {
  Shared(Service& s, const ServerOptions& o, int threads)
      : service(s),
        options(o),
        queries(threads),
        logins(std::max(1, s.login_slots())),
        transfers(std::max(1, o.transfer_threads)) {}
  Service& service;
  const ServerOptions& options;
  net::thread_pool queries, logins, transfers;
  std::optional<ssl::context> tls;
  std::atomic<std::size_t> connections{0};
  std::atomic<int> in_flight{0};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};  // the network threads returned

  net::thread_pool& PoolFor(Lane lane) {
    switch (lane) {
      case Lane::kLogin: return logins;
      case Lane::kTransfer: return transfers;
      case Lane::kQuery:
      case Lane::kInline: break;
    }
    return queries;
  }
};

template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Connection(Stream&& stream, Shared& shared, std::string client)
      : stream_(std::move(stream)), shared_(shared), client_(std::move(client)) {
    shared_.service.metrics().ConnectionOpened();
  }
  ~Connection() {
    shared_.connections.fetch_sub(1);
    shared_.service.metrics().ConnectionClosed();
    EndRequest();
  }

  void Start() {
    if constexpr (kTls) {
      Lowest().expires_after(shared_.options.header_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](error_code ec) {
                                if (ec) return;  // not TLS, or gone: nothing to answer
                                self->ReadHeader();
                              });
    } else {
      net::dispatch(stream_.get_executor(),
                    [self = this->shared_from_this()] { self->ReadHeader(); });
    }
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    // No body limit while the header is read (Beast's default, 1 MiB,
    // would refuse a larger Content-Length as a parse error): the route's
    // cap is checked by Prepare and set before the body is read. (Not
    // boost::none: Beast 1.74 compares the length with it as if it were
    // smaller than any number.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    req_ = Request();
    prep_ = Prepared();
    body_.clear();
    Lowest().expires_after(shared_.options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == ssl::error::stream_truncated) {
      return Close();
    }
    in_request_ = true;
    shared_.in_flight.fetch_add(1);
    keep_alive_ = false;
    if (ec == http::error::body_limit) {
      return WriteEarly(ErrorResponse(ErrorCode::kTooLarge, "the body is larger than this route accepts"));
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return WriteEarly(ErrorResponse(431, "header_too_large",
                                      "the request's headers are larger than 8 KiB"));
    }
    if (ec) {
      return WriteEarly(ErrorResponse(400, "invalid_argument", "malformed HTTP request"));
    }
    const auto& msg = parser_->get();
    req_.method = std::string(msg.method_string());
    req_.target = std::string(msg.target());
    for (const auto& field : msg) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string& slot = req_.headers[name];
      slot += (slot.empty() ? "" : ", ") + std::string(field.value());
    }
    req_.client = client_;
    req_.tls = kTls;
    keep_alive_ = msg.keep_alive() && !shared_.draining.load();
    prep_ = shared_.service.Prepare(req_);
    const bool has_body = !parser_->is_done();
    if (prep_.early) {
      if (has_body) keep_alive_ = false;  // the unread body ends the connection
      return WriteEarly(std::move(*prep_.early));
    }
    if (!has_body || prep_.body == BodyKind::kNone) return Dispatch();
    parser_->body_limit(prep_.body_limit);
    // A JSON body has a few seconds in all, however it trickles in (an
    // upload only a timeout between its pieces).
    body_deadline_ = prep_.body == BodyKind::kJson
                         ? std::chrono::steady_clock::now() + std::chrono::seconds(10)
                         : std::chrono::steady_clock::time_point::max();
    if (msg.version() == 11 && beast::iequals(msg[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     msg.version());
      Lowest().expires_after(shared_.options.write_timeout);
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](error_code e, std::size_t) {
                          if (e) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    auto& body = parser_->get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    const auto next = std::chrono::steady_clock::now() + shared_.options.body_timeout;
    Lowest().expires_at(std::min(next, body_deadline_));
    http::async_read_some(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](error_code ec, std::size_t) {
                            self->OnBody(ec);
                          });
  }

  void OnBody(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return WriteEarly(ErrorResponse(ErrorCode::kTooLarge,
                                      "the body is larger than this route accepts"));
    }
    if (ec) return Close();  // the client went away: the receiver discards the upload
    const std::size_t got = piece_.size() - parser_->get().body().size;
    if (got > 0) {
      const std::string_view piece(piece_.data(), got);
      if (prep_.body == BodyKind::kJson) {
        body_.append(piece);
      } else {
        try {
          prep_.receiver->Write(piece);
        } catch (const Error& e) {
          keep_alive_ = false;
          return WriteEarly(ErrorResponse(e.code(), e.what()));
        } catch (const std::exception&) {
          keep_alive_ = false;
          return WriteEarly(ErrorResponse(ErrorCode::kInternal, "internal error"));
        }
      }
    }
    if (parser_->is_done()) return Dispatch();
    ReadBody();
  }

  // The handler runs on its lane's pool; the answer comes back to the strand.
  void Dispatch() {
    req_.body = std::move(body_);
    if (auto busy = shared_.service.Admit(prep_)) return WriteEarly(std::move(*busy));
    if (prep_.lane == Lane::kInline) return Write(shared_.service.Handle(req_, prep_));
    net::post(shared_.PoolFor(prep_.lane), [self = this->shared_from_this()] {
      Response resp = self->shared_.service.Handle(self->req_, self->prep_);
      net::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable {
        self->Write(std::move(resp));
      });
    });
  }

  // An answer decided on the network thread: no handler runs.
  void WriteEarly(Response resp) {
    if (req_.started_us == 0) {
      req_.started_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    }
    Write(std::move(resp));
  }

  // The request's HTTP version, or 1.1 when its header did not parse.
  unsigned Version() const {
    const unsigned v = parser_ ? parser_->get().version() : 0;
    return v == 10 || v == 11 ? v : 11;
  }

  template <class Body>
  void SetHeaders(http::response<Body>& res, const Response& resp) {
    for (const auto& [name, value] : resp.headers) res.set(name, value);
    res.keep_alive(keep_alive_);
  }

  void Write(Response resp) {
    shared_.service.Decorate(req_, resp);
    if (resp.stream) return WriteStreamed(std::move(resp));
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(resp.status), Version());
    SetHeaders(*res, resp);
    res->body() = std::move(resp.body);
    res->prepare_payload();
    std::uint64_t bytes = res->body().size();
    if (req_.method == "HEAD") {
      res->body().clear();  // Content-Length stays the GET's
      bytes = 0;
    }
    resp.body.clear();
    Lowest().expires_after(shared_.options.write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, resp = std::move(resp), bytes](
                          error_code ec, std::size_t) {
                        self->shared_.service.Record(self->req_, &self->prep_, resp, bytes);
                        self->AfterWrite(ec);
                      });
  }

  // A header with the exact length, then the producer's pieces as they
  // come, one in flight at a time (the producer waits for each). For HEAD,
  // the header alone: the producer never runs.
  void WriteStreamed(Response resp) {
    auto res = std::make_shared<http::response<http::empty_body>>(
        static_cast<http::status>(resp.status), Version());
    SetHeaders(*res, resp);
    res->content_length(resp.stream_size);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    Lowest().expires_after(shared_.options.write_timeout);
    http::async_write_header(
        stream_, *sr,
        [self = this->shared_from_this(), res, sr, resp = std::move(resp)](error_code ec,
                                                                          std::size_t) mutable {
          if (ec || self->req_.method == "HEAD") {
            self->shared_.service.Record(self->req_, &self->prep_, resp, 0);
            return ec ? self->Close() : self->AfterWrite({});
          }
          self->Produce(std::move(resp));
        });
  }

  void Produce(Response resp) {
    net::post(shared_.transfers, [self = this->shared_from_this(), resp = std::move(resp)]() mutable {
      std::uint64_t sent = 0;
      bool complete = false;
      try {
        resp.stream([&](std::string_view piece) {
          for (std::size_t at = 0; at < piece.size(); at += kPiece) {
            const std::string_view part = piece.substr(at, kPiece);
            if (sent + part.size() > resp.stream_size) throw Error(ErrorCode::kCorrupt, "longer than announced");
            self->WritePieceAndWait(part);
            sent += part.size();
          }
        });
        complete = sent == resp.stream_size;
      } catch (const std::exception&) {
        complete = false;
      }
      net::post(self->stream_.get_executor(), [self, resp = std::move(resp), sent, complete] {
        self->shared_.service.Record(self->req_, &self->prep_, resp, sent);
        // A body cut short (damage found midway, a client too slow) ends
        // the connection, so the client sees a truncated answer, never a
        // complete-looking one.
        if (!complete) return self->Close();
        self->AfterWrite({});
      });
    });
  }

  // On a transfer thread: one piece through the strand; throws if the
  // write fails or the client stops reading for longer than the timeout.
  void WritePieceAndWait(std::string_view part) {
    auto data = std::make_shared<std::string>(part);
    auto done = std::make_shared<std::promise<error_code>>();
    std::future<error_code> result = done->get_future();
    net::post(stream_.get_executor(), [self = this->shared_from_this(), data, done] {
      self->Lowest().expires_after(self->shared_.options.write_timeout);
      net::async_write(self->stream_, net::buffer(*data), [data, done](error_code ec, std::size_t) {
        crypto::Wipe(*data);  // a piece of a document: plaintext
        done->set_value(ec);
      });
    });
    // Waits in short steps, so a server that stops does not wait out the
    // whole write timeout here.
    const auto deadline = std::chrono::steady_clock::now() + shared_.options.write_timeout +
                          std::chrono::seconds(5);
    while (result.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (shared_.stopped.load() || std::chrono::steady_clock::now() > deadline) {
        throw Error(ErrorCode::kIo, "the client stopped reading");
      }
    }
    if (result.get()) throw Error(ErrorCode::kIo, "the client went away");
  }

  void AfterWrite(error_code ec) {
    EndRequest();
    if (ec || !keep_alive_ || shared_.draining.load()) return Close();
    ReadHeader();
  }

  void EndRequest() {
    // A login's or a password change's body held a password.
    if (prep_.lane == Lane::kLogin) {
      crypto::Wipe(req_.body);
      crypto::Wipe(body_);
    }
    prep_ = Prepared();  // releases a login ticket, discards an unfinished upload
    if (in_request_) {
      in_request_ = false;
      shared_.in_flight.fetch_sub(1);
    }
  }

  void Close() {
    EndRequest();
    if constexpr (kTls) {
      Lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](error_code) {
        error_code ignored;
        self->Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
    } else {
      error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Linger();
    }
  }

  // After an answer sent before the body was read (413, 401...): reads and
  // drops what the client still sends, for a moment, so that closing the
  // socket with unread data does not reset the connection before the
  // client has read the answer.
  void Linger() {
    if (linger_deadline_ == std::chrono::steady_clock::time_point()) {
      linger_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
    if (std::chrono::steady_clock::now() > linger_deadline_) return;
    Lowest().expires_at(linger_deadline_);
    Lowest().async_read_some(net::buffer(piece_),
                             [self = this->shared_from_this()](error_code ec, std::size_t) {
                               if (!ec) self->Linger();
                             });
  }

  Stream stream_;
  Shared& shared_;
  std::string client_;
  beast::flat_buffer buffer_{kReadBuffer};
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::array<char, kPiece> piece_{};
  Request req_;
  Prepared prep_;
  std::string body_;
  bool keep_alive_ = false;
  bool in_request_ = false;
  std::chrono::steady_clock::time_point linger_deadline_{};
  std::chrono::steady_clock::time_point body_deadline_{};
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, Shared& shared, tcp::endpoint at)
      : ioc_(ioc), shared_(shared), acceptor_(net::make_strand(ioc)) {
    error_code ec;
    acceptor_.open(at.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(at, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot listen on that address: " + ec.message());
  }
  tcp::endpoint local() const { return acceptor_.local_endpoint(); }
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           [self = shared_from_this()](error_code ec, tcp::socket socket) {
                             self->OnAccept(ec, std::move(socket));
                           });
  }
  void Stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

 private:
  void OnAccept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors (or another failure): wait a moment instead of
      // spinning on accept.
      backoff_.expires_after(std::chrono::milliseconds(100));
      backoff_.async_wait([self = shared_from_this()](error_code e) {
        if (!e) self->Accept();
      });
      return;
    }
    {
      if (shared_.connections.fetch_add(1) >= shared_.options.max_connections ||
          shared_.draining.load()) {
        shared_.connections.fetch_sub(1);
        shared_.service.metrics().ConnectionRefused();
        error_code ignored;
        socket.close(ignored);
      } else {
        error_code peer_ec;
        const auto peer = socket.remote_endpoint(peer_ec);
        const std::string client = peer_ec ? "" : peer.address().to_string();
        beast::tcp_stream stream(std::move(socket));
        if (shared_.tls) {
          std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(
              beast::ssl_stream<beast::tcp_stream>(std::move(stream), *shared_.tls), shared_, client)
              ->Start();
        } else {
          std::make_shared<Connection<beast::tcp_stream>>(std::move(stream), shared_, client)->Start();
        }
      }
    }
    Accept();
  }

  net::io_context& ioc_;
  Shared& shared_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_{acceptor_.get_executor()};
};

tcp::endpoint ParseListen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument, "--listen takes ADDRESS:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    throw Error(ErrorCode::kInvalidArgument, "--listen needs a port from 0 to 65535");
  }
  error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) throw Error(ErrorCode::kInvalidArgument, "--listen needs a numeric IP address");
  return tcp::endpoint(address, static_cast<unsigned short>(std::stoul(port)));
}

}  // namespace

void Serve(Service& service, const ServerOptions& options) {
  // A peer gone, or a closed log pipe, is an error to handle, not a signal
  // that ends the process.
  ::signal(SIGPIPE, SIG_IGN);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = options.threads > 0 ? options.threads : cores;
  Shared shared(service, options, threads);
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "TLS needs both --tls-cert and --tls-key");
    }
    shared.tls.emplace(ssl::context::tls_server);
    shared.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    error_code ec;
    shared.tls->use_certificate_chain_file(options.tls_cert, ec);
    if (!ec) shared.tls->use_private_key_file(options.tls_key, ssl::context::pem, ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot load the TLS certificate or key: " + ec.message());
  }

  net::io_context ioc(threads);
  auto listener = std::make_shared<Listener>(ioc, shared, ParseListen(options.listen));
  listener->Accept();

  // Housekeeping, and the drain once a signal came: both on one strand.
  auto control = net::make_strand(ioc);
  net::steady_timer tick(control);
  auto started_drain = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void(error_code)> on_tick = [&](error_code ec) {
    if (ec) return;
    if (shared.draining.load()) {
      if (shared.in_flight.load() == 0 ||
          std::chrono::steady_clock::now() - *started_drain > options.drain) {
        ioc.stop();
        return;
      }
      tick.expires_after(std::chrono::milliseconds(50));
    } else {
      if (options.on_tick) options.on_tick();
      tick.expires_after(std::chrono::seconds(5));
    }
    tick.async_wait(on_tick);
  };
  tick.expires_after(std::chrono::seconds(5));
  tick.async_wait(on_tick);

  net::signal_set signals(control, SIGINT, SIGTERM);
  signals.async_wait([&](error_code ec, int) {
    if (ec) return;
    *started_drain = std::chrono::steady_clock::now();
    shared.draining.store(true);
    listener->Stop();
    tick.cancel();
    tick.expires_after(std::chrono::milliseconds(10));
    tick.async_wait(on_tick);
  });

  if (options.on_listening) {
    const tcp::endpoint at = listener->local();
    const std::string host = at.address().is_v6() ? "[" + at.address().to_string() + "]"
                                                  : at.address().to_string();
    options.on_listening(host + ":" + std::to_string(at.port()));
  }
  std::vector<std::thread> runners;
  for (int i = 1; i < threads; ++i) runners.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : runners) t.join();
  shared.stopped.store(true);
  shared.queries.join();
  shared.logins.join();
  shared.transfers.join();
}

}  // namespace dossier::api
