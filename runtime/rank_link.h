#pragma once
// One process's link to the others when a placement runs across processes or hosts: c10d's TCPStore for the
// rendezvous (torchrun's conventions: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK) and ProcessGroupGloo for
// point-to-point tensors. Every wait is bounded by the timeout, and every failure is an Error naming the peer:
// a peer that exited or was killed ("closed its connection"), one that stopped answering (timed out), a
// rendezvous nobody joined.
//
// Tensors travel as a header (dtype and shape, one small int64 message) and the data, each matched by (peer, tag):
// the receiver needs no shape in advance, and the order in which messages are sent does not have to match the
// order they are awaited in. The executor (runtime/executor.h) orders them so that no wait can deadlock.
//
// Gloo moves a message only once both sides posted it: a send before its receive waits for the receiver's
// notice (a round trip, and on busy cores a wake-up of each side's threads). So the executor posts the receives
// of tensors whose dtype and shape it knows in advance (PostRecv: no header) when a step starts, and posts sends
// without waiting for them (PostSend, WaitSends at the end of the step): a tensor then leaves as soon as it is
// produced and lands in its buffer as soon as it arrives.
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "runtime/rank_options.h"

namespace allot::runtime {

class RankLink {
 public:
  explicit RankLink(const RankOptions& options);
  ~RankLink();
  RankLink(const RankLink&) = delete;
  RankLink& operator=(const RankLink&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  const RankOptions& options() const { return options_; }

  // Sends a host tensor (made contiguous) to `peer`; returns once it is handed over. Tags must be below 2^29 (the
  // barrier's).
  void Send(const at::Tensor& tensor, int peer, int tag);
  // Receives the tensor `peer` sent with `tag`, on the host.
  at::Tensor Recv(int peer, int tag);

  // Posts the send of a host tensor and returns at once (the link keeps the tensor until it is sent). Without a
  // header the receiver must post a PostRecv of the same dtype and shape; with one it may Recv.
  void PostSend(const at::Tensor& tensor, int peer, int tag, bool header);
  // Waits for every send posted (by any thread) since the last call.
  void WaitSends();
  // Posts the receive of a tensor of `into`'s dtype and shape (no header) into `into`; WaitRecv(ticket) returns it
  // once it has arrived.
  size_t PostRecv(at::Tensor into, int peer, int tag);
  at::Tensor WaitRecv(size_t ticket);
  // Forgets the tickets of the receives already waited for (the next step numbers them from 0 again).
  void ClearRecvs();
  // Every rank publishes `value` under `key`; returns all ranks' values in rank order.
  std::vector<std::string> Exchange(const std::string& key, const std::string& value);
  void Barrier();
  // Ends the sends and receives in flight on other threads (they throw): after a failure elsewhere.
  void Abort();

 private:
  class Impl;  // c10d's headers stay in rank_link.cc
  RankOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace allot::runtime
