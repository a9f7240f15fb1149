#pragma once
// Where a process stands among the ranks of a run across processes (torchrun's rendezvous), without LibTorch in
// the interface: tools/ fills it, runtime/rank_link.h connects with it.
#include <string>

namespace allot::runtime {

struct RankOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_seconds = 60;  // rendezvous, and every send and receive
};

// RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT from the environment (torchrun's); an Error names the variable that
// is missing or malformed.
RankOptions RankOptionsFromEnvironment(double timeout_seconds);

}  // namespace allot::runtime
