#pragma once
// Starting ranks on this machine, and running this binary as a child: what `allot run --launch N`, `allot profile
// --launch N` and the multi-process benchmarks share.
#include <string>
#include <vector>

#include "cost_model/cluster.h"
#include "cost_model/profile.h"

namespace allot::tools {

// This process's command line again, as `allot worker` (its first "run" replaced, --launch dropped), in `ranks`
// local processes with torchrun's variables (MASTER_ADDR 127.0.0.1, a free MASTER_PORT, WORLD_SIZE, RANK), waited
// for. When one fails, the others get timeout_seconds and a few more to notice and exit with their own error; then
// any still running are killed, and every child is reaped (no hang, no zombie; a launcher that dies takes its
// ranks with it). Throws Error naming the first rank that failed.
void LaunchRanks(int ranks, double timeout_seconds);

// Runs this binary with `args` and returns its stdout (its stderr passes through); Error naming the command and
// its exit when it fails.
std::string RunSelf(const std::vector<std::string>& args);

// Which rank runs each device: the cluster's "rank" fields, or device d on rank d mod the world size when it has
// none. Errors name the device.
std::vector<int> DeviceRanks(const Cluster& cluster, int world);

// Replaces the profile's links between devices that run on different ranks with the link between ranks as
// measured: `allot run --launch N --measure-link` on a small model (rank 0 to each other rank, header and data
// through c10d, fitted over 4 KB to 8 MB).
void MeasureRankLinksInto(Profile& profile, const Cluster& cluster, int ranks, double timeout_seconds);

}  // namespace allot::tools
