#include "runtime/rank_link.h"

// c10d's Gloo process group is declared only with USE_C10D_GLOO (Debian's LibTorch is built with it).
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <ATen/ATen.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include "graph/error.h"

namespace allot::runtime {
namespace {

constexpr int kMaxDims = 8;

int EnvInt(const char* name, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) throw Error(std::string("environment variable ") + name + " is not set (torchrun's rendezvous: "
                             "MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK)");
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end || x < lo || x > hi)
    throw Error(std::string("environment variable ") + name + "=" + Quote(v) + ": expected an integer from " +
                std::to_string(lo) + " to " + std::to_string(hi));
  return static_cast<int>(x);
}

// The local address this host reaches `master` from: the source address of the route the kernel picks towards it
// (a UDP socket's connect sends nothing). Other ranks reach this one there; a hostname lookup would not do, since
// /etc/hosts commonly maps the hostname to the loopback.
std::string LocalAddressTowards(const std::string& master, int port, int rank) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(master.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0)
    throw Error("rank " + std::to_string(rank) + ": MASTER_ADDR=" + Quote(master) + ": " + gai_strerror(rc));
  std::string address;
  for (addrinfo* a = found; a && address.empty(); a = a->ai_next) {
    const int fd = socket(a->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    char text[INET6_ADDRSTRLEN] = {0};
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      const void* ip = local.ss_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
                                                   : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr);
      if (inet_ntop(local.ss_family, ip, text, sizeof text)) address = text;
    }
    close(fd);
  }
  freeaddrinfo(found);
  if (address.empty())
    throw Error("rank " + std::to_string(rank) + ": no route from this host to MASTER_ADDR=" + Quote(master));
  return address;
}

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  // Gloo prefixes its source position: "[../gloo/transport/tcp/pair.cc:598] Connection closed by peer ...".
  if (!line.empty() && line[0] == '[' && line.find("] ") != std::string::npos) line = line.substr(line.find("] ") + 2);
  return line;
}

}  // namespace

RankOptions RankOptionsFromEnvironment(double timeout_seconds) {
  RankOptions o;
  o.world_size = EnvInt("WORLD_SIZE", 1, 65536);
  o.rank = EnvInt("RANK", 0, o.world_size - 1);
  const char* addr = std::getenv("MASTER_ADDR");
  if (!addr || !*addr) throw Error("environment variable MASTER_ADDR is not set (torchrun's rendezvous: "
                                   "MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK)");
  o.master_addr = addr;
  o.master_port = EnvInt("MASTER_PORT", 1, 65535);
  o.timeout_seconds = timeout_seconds;
  return o;
}

class RankLink::Impl {
 public:
  explicit Impl(const RankOptions& o) : o_(o) {
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
    const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
    try {
      c10d::TCPStoreOptions so;
      so.port = static_cast<uint16_t>(o.master_port);
      so.isServer = o.rank == 0;
      so.numWorkers = static_cast<size_t>(o.world_size);
      so.waitWorkers = true;
      so.timeout = timeout;
      store_ = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(o.rank) + ": rendezvous at " + where + " failed within " +
                  FormatTimeout() + ": " + FirstLine(e.what()));
    }
    // Where the other ranks reach this one: the interfaces GLOO_SOCKET_IFNAME names (torch.distributed's variable,
    // comma-separated), else the address this host reaches the master from.
    std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
    const char* interfaces = std::getenv("GLOO_SOCKET_IFNAME");
    if (interfaces && *interfaces) {
      const std::string list = interfaces;
      for (size_t at = 0; at <= list.size();) {
        const size_t comma = std::min(list.find(',', at), list.size());
        const std::string name = list.substr(at, comma - at);
        at = comma + 1;
        if (name.empty()) continue;
        try {
          devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
        } catch (const std::exception&) {
          throw Error("rank " + std::to_string(o.rank) + ": GLOO_SOCKET_IFNAME=" + Quote(list) + ": this host has no " +
                      "interface " + Quote(name) + " with an address");
        }
      }
    } else {
      const std::string address = LocalAddressTowards(o.master_addr, o.master_port, o.rank);
      try {
        devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(address));
      } catch (const std::exception& e) {
        throw Error("rank " + std::to_string(o.rank) + ": cannot listen at " + address + ": " + FirstLine(e.what()));
      }
    }
    try {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices = devices;
      options->threads = 2;
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, o.rank, o.world_size, options);
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(o.rank) + ": connecting to the other ranks (through " + where +
                  ") failed: " + FirstLine(e.what()));
    }
  }

  std::string FormatTimeout() const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", o_.timeout_seconds);
    return buf;
  }

  [[noreturn]] void Fail(const std::exception& e, int peer, const char* what) {
    const std::string msg = e.what();
    const std::string me = "rank " + std::to_string(o_.rank) + ": ";
    const std::string them = "rank " + std::to_string(peer);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (aborted_) throw Error(me + what + " " + them + " abandoned after a failure on this rank");
    }
    if (msg.find("losed by peer") != std::string::npos || msg.find("reset by peer") != std::string::npos ||
        msg.find("Broken pipe") != std::string::npos)
      throw Error(me + them + " closed its connection (it exited or was killed) while this rank was " + what + " it");
    if (msg.find("imed out") != std::string::npos || msg.find("imeout") != std::string::npos)
      throw Error(me + "no answer from " + them + " within " + FormatTimeout() + " while " + what +
                  " it (it hangs, is stopped, or is too slow: raise --timeout)");
    throw Error(me + what + " " + them + " failed: " + FirstLine(msg));
  }

  // Registers a posted send or receive so that Abort() can end it.
  void Track(const c10::intrusive_ptr<c10d::Work>& work, int peer, const char* what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_) {
      work->abort();
      throw Error("rank " + std::to_string(o_.rank) + ": " + what + " rank " + std::to_string(peer) +
                  " abandoned after a failure on this rank");
    }
    in_flight_.push_back(work);
  }

  void Wait(const c10::intrusive_ptr<c10d::Work>& work, int peer, const char* what) {
    auto forget = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), work));
    };
    try {
      work->wait(std::chrono::milliseconds(static_cast<int64_t>(o_.timeout_seconds * 1000)));
    } catch (const std::exception& e) {
      forget();
      Fail(e, peer, what);
    }
    forget();
  }

  void Run(c10::intrusive_ptr<c10d::Work> work, int peer, const char* what) {
    Track(work, peer, what);
    Wait(work, peer, what);
  }

  static at::Tensor Header(const at::Tensor& t) {
    if (t.dim() > kMaxDims) throw Error("sending a tensor of " + std::to_string(t.dim()) + " dimensions (at most 8)");
    at::Tensor header = at::zeros({2 + kMaxDims}, at::kLong);
    int64_t* h = header.data_ptr<int64_t>();
    h[0] = static_cast<int64_t>(t.scalar_type());
    h[1] = t.dim();
    for (int64_t i = 0; i < t.dim(); ++i) h[2 + i] = t.size(i);
    return header;
  }

  // Posts a tensor's messages (the header when asked for, then the data unless empty), each tracked for Abort.
  std::vector<c10::intrusive_ptr<c10d::Work>> Post(const at::Tensor& tensor, int peer, int tag, bool header) {
    const at::Tensor t = tensor.contiguous();
    std::vector<at::Tensor> messages;
    if (header) messages.push_back(Header(t));
    if (t.numel() > 0) messages.push_back(t);
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (size_t i = 0; i < messages.size(); ++i) {
      const int slot = 2 * tag + (header && i == 0 ? 0 : 1);
      std::vector<at::Tensor> v{messages[i]};
      works.push_back(Call([&] { return group_->send(v, peer, slot); }, peer, "sending to"));
      Track(works.back(), peer, "sending to");
    }
    return works;
  }

  void PostSend(const at::Tensor& tensor, int peer, int tag, bool header) {
    const auto works = Post(tensor, peer, tag, header);
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& work : works) sends_.push_back({work, peer});
  }

  void WaitSends() {
    std::vector<std::pair<c10::intrusive_ptr<c10d::Work>, int>> sends;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sends.swap(sends_);
    }
    for (auto& [work, peer] : sends) Wait(work, peer, "sending to");
  }

  size_t PostRecv(at::Tensor into, int peer, int tag) {
    Posted p{{}, std::move(into), peer};
    if (p.tensor.numel() > 0) {
      std::vector<at::Tensor> v{p.tensor};
      p.work = Call([&] { return group_->recv(v, peer, 2 * tag + 1); }, peer, "receiving from");
      Track(p.work, peer, "receiving from");
    }
    std::lock_guard<std::mutex> lock(mu_);
    recvs_.push_back(std::move(p));
    return recvs_.size() - 1;
  }

  at::Tensor WaitRecv(size_t ticket) {
    Posted p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      p = recvs_.at(ticket);
    }
    if (p.work) Wait(p.work, p.peer, "receiving from");
    return p.tensor;
  }

  void ClearRecvs() {
    std::lock_guard<std::mutex> lock(mu_);
    recvs_.clear();
  }

  void Send(const at::Tensor& tensor, int peer, int tag) {
    for (const auto& work : Post(tensor, peer, tag, /*header=*/true)) Wait(work, peer, "sending to");
  }

  at::Tensor Recv(int peer, int tag) {
    std::vector<at::Tensor> hv{at::zeros({2 + kMaxDims}, at::kLong)};
    Run(Call([&] { return group_->recv(hv, peer, 2 * tag); }, peer, "receiving from"), peer, "receiving from");
    const int64_t* h = hv[0].data_ptr<int64_t>();
    if (h[1] < 0 || h[1] > kMaxDims || h[0] < 0 || h[0] >= static_cast<int64_t>(c10::ScalarType::NumOptions))
      throw Error("rank " + std::to_string(o_.rank) + ": a malformed tensor header from rank " + std::to_string(peer));
    std::vector<int64_t> shape(h + 2, h + 2 + h[1]);
    std::vector<at::Tensor> dv{at::empty(shape, at::TensorOptions().dtype(static_cast<c10::ScalarType>(h[0])))};
    if (dv[0].numel() == 0) return dv[0];
    Run(Call([&] { return group_->recv(dv, peer, 2 * tag + 1); }, peer, "receiving from"), peer, "receiving from");
    return dv[0];
  }

  // Posting a send or receive can throw too (a peer already gone).
  template <typename F>
  c10::intrusive_ptr<c10d::Work> Call(F&& post, int peer, const char* what) {
    try {
      return post();
    } catch (const std::exception& e) {
      Fail(e, peer, what);
    }
  }

  std::vector<std::string> Exchange(const std::string& key, const std::string& value) {
    std::vector<std::string> out;
    try {
      const std::string base = "allot/" + key + "/";
      store_->set(base + std::to_string(o_.rank), std::vector<uint8_t>(value.begin(), value.end()));
      for (int r = 0; r < o_.world_size; ++r) {
        const std::vector<uint8_t> v = store_->get(base + std::to_string(r));
        out.emplace_back(v.begin(), v.end());
      }
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(o_.rank) + ": exchanging '" + key + "' with the other ranks failed within " +
                  FormatTimeout() + " (a rank exited or stopped): " + FirstLine(e.what()));
    }
    return out;
  }

  // Through rank 0, point to point, so that a rank that is gone or silent is named (a Gloo barrier cannot say
  // which rank it misses).
  void Barrier() {
    constexpr int kBarrierTag = 1 << 29;
    const at::Tensor token = at::zeros({1}, at::kLong);
    if (o_.rank != 0) {
      Send(token, 0, kBarrierTag);
      Recv(0, kBarrierTag);
      return;
    }
    for (int r = 1; r < o_.world_size; ++r) Recv(r, kBarrierTag);
    for (int r = 1; r < o_.world_size; ++r) Send(token, r, kBarrierTag);
  }

  void Abort() {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    for (auto& w : in_flight_) w->abort();
  }

 private:
  RankOptions o_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  std::mutex mu_;
  bool aborted_ = false;
  std::vector<c10::intrusive_ptr<c10d::Work>> in_flight_;
  struct Posted {
    c10::intrusive_ptr<c10d::Work> work;  // null for an empty tensor
    at::Tensor tensor;
    int peer = 0;
  };
  std::vector<std::pair<c10::intrusive_ptr<c10d::Work>, int>> sends_;  // posted, not yet waited for
  std::vector<Posted> recvs_;                                           // by ticket
};

RankLink::RankLink(const RankOptions& options) : options_(options), impl_(std::make_unique<Impl>(options)) {}
RankLink::~RankLink() = default;
void RankLink::Send(const at::Tensor& tensor, int peer, int tag) { impl_->Send(tensor, peer, tag); }
at::Tensor RankLink::Recv(int peer, int tag) { return impl_->Recv(peer, tag); }
std::vector<std::string> RankLink::Exchange(const std::string& key, const std::string& value) {
  return impl_->Exchange(key, value);
}
void RankLink::PostSend(const at::Tensor& tensor, int peer, int tag, bool header) {
  impl_->PostSend(tensor, peer, tag, header);
}
void RankLink::WaitSends() { impl_->WaitSends(); }
size_t RankLink::PostRecv(at::Tensor into, int peer, int tag) { return impl_->PostRecv(std::move(into), peer, tag); }
at::Tensor RankLink::WaitRecv(size_t ticket) { return impl_->WaitRecv(ticket); }
void RankLink::ClearRecvs() { impl_->ClearRecvs(); }
void RankLink::Barrier() { impl_->Barrier(); }
void RankLink::Abort() { impl_->Abort(); }

}  // namespace allot::runtime
