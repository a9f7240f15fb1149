#include "tools/rank_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <nlohmann/json.hpp>

#include "cost_model/placement.h"
#include "graph/error.h"
#include "graph/file_io.h"

namespace allot::tools {
namespace {

// This process's command line, as execv takes it.
std::vector<std::string> OwnCommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  for (size_t start = 0; start < raw.size();) {
    const size_t end = std::min(raw.find('\0', start), raw.size());
    out.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// A TCP port free on the loopback now (the kernel's pick), for the launched ranks' rendezvous.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("--launch: cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) throw Error("--launch: cannot find a free port on 127.0.0.1");
  return ntohs(addr.sin_port);
}

std::string ExitDescription(int status) {
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

void LaunchRanks(int ranks, double timeout_seconds) {
  std::vector<std::string> argv = OwnCommandLine();
  const auto run = std::find(argv.begin() + 1, argv.end(), "run");
  if (argv.empty() || run == argv.end()) throw Error("--launch: cannot find the run command in this command line");
  *run = "worker";
  for (size_t i = 1; i < argv.size();) {  // drop --launch N / --launch=N
    if (argv[i] == "--launch" && i + 1 < argv.size()) argv.erase(argv.begin() + i, argv.begin() + i + 2);
    else if (argv[i].rfind("--launch=", 0) == 0) argv.erase(argv.begin() + i);
    else ++i;
  }
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string port = std::to_string(FreePort());
  std::fflush(nullptr);
  std::vector<pid_t> pids;
  for (int r = 0; r < ranks; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t p : pids) kill(p, SIGKILL);
      for (pid_t p : pids) waitpid(p, nullptr, 0);
      throw Error("--launch: fork failed");
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a launcher that dies takes its ranks with it
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", port.c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(ranks).c_str(), 1);
      setenv("RANK", std::to_string(r).c_str(), 1);
      execv("/proc/self/exe", cargv.data());
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::string failure;
  size_t running = pids.size();
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      const auto it = std::find(pids.begin(), pids.end(), pid);
      if (it == pids.end()) continue;
      const int rank = static_cast<int>(it - pids.begin());
      *it = -1;
      --running;
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && failure.empty()) {
        failure = "rank " + std::to_string(rank) + " " + ExitDescription(status);
        deadline = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>((timeout_seconds + 5) * 1000));
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      for (pid_t p : pids)
        if (p > 0) kill(p, SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!failure.empty()) throw Error("--launch: " + failure);
}


std::vector<int> DeviceRanks(const Cluster& cluster, int world) {
  std::vector<int> ranks;
  size_t given = 0;
  for (const Device& d : cluster.devices()) given += d.rank >= 0;
  for (DeviceId d = 0; d < cluster.num_devices(); ++d) {
    const Device& device = cluster.device(d);
    if (given == 0) {
      ranks.push_back(static_cast<int>(d % static_cast<size_t>(world)));
      continue;
    }
    if (device.rank < 0)
      throw Error("cluster " + cluster.name() + ": device " + device.name +
                  " has no \"rank\" while others have one (give every device a rank, or none)");
    if (device.rank >= world)
      throw Error("cluster " + cluster.name() + ": device " + device.name + " is on rank " +
                  std::to_string(device.rank) + " but WORLD_SIZE is " + std::to_string(world));
    ranks.push_back(device.rank);
  }
  return ranks;
}

std::string RunSelf(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/proc/self/exe"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) throw Error("cannot create a pipe to run allot " + args.front());
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw Error("fork failed running allot " + args.front());
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv("/proc/self/exe", cargv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    std::string line = "allot";
    for (const std::string& a : args) line += " " + a;
    throw Error("'" + line + "' " + ExitDescription(status));
  }
  return out;
}

void MeasureRankLinksInto(Profile& profile, const Cluster& cluster, int ranks, double timeout_seconds) {
  char dir_template[] = "/tmp/allot_links_XXXXXX";
  if (!mkdtemp(dir_template)) throw Error("cannot create a temporary folder for the link measurement");
  const std::string dir = dir_template, spec = dir + "/cluster.json", placement = dir + "/mlp.json";
  WriteFileAtomic(spec, cluster.ToJson());
  nlohmann::json j;
  try {
    RunSelf({"place", "gen:mlp", "--cluster", spec, "--placer", "single", "-o", placement});
    const std::string timeout = std::to_string(timeout_seconds);
    j = nlohmann::json::parse(RunSelf({"run", "gen:mlp", "--placement", placement, "--cluster", spec, "--steps", "1",
                                       "--warmup", "0", "--launch", std::to_string(ranks), "--timeout", timeout,
                                       "--measure-link", "--json"}));
  } catch (...) {
    std::filesystem::remove_all(dir);
    throw;
  }
  std::filesystem::remove_all(dir);
  std::vector<std::pair<double, double>> to_rank(static_cast<size_t>(ranks), {0, 0});  // rank 0 -> r
  for (const auto& l : j.at("rank_links"))
    to_rank.at(l.at("to").get<size_t>()) = {l.at("gbps").get<double>() * 1e9, l.at("latency_us").get<double>() * 1e-6};
  const std::vector<int> rank = DeviceRanks(cluster, ranks);
  std::vector<ProfiledLink> links;
  for (const ProfiledLink& l : profile.links()) {
    const int ra = rank[cluster.FindDevice(l.from)], rb = rank[cluster.FindDevice(l.to)];
    if (ra == rb) {
      links.push_back(l);
      continue;
    }
    // Measured from rank 0; a link between two other ranks takes the farther rank's (the same machine's loopback).
    const auto [bandwidth, latency] = to_rank[static_cast<size_t>(std::max(ra, rb))];
    links.push_back({l.from, l.to, bandwidth, latency});
  }
  profile.SetLinks(std::move(links));
}

}  // namespace allot::tools
