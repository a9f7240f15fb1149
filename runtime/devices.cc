#include "runtime/devices.h"

#include <ATen/Context.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include "graph/error.h"

namespace allot::runtime {

int CudaDeviceCount() { return at::hasCUDA() ? static_cast<int>(at::getNumGPUs()) : 0; }

c10::Device TorchDevice(const Device& device) {
  if (device.kind == DeviceKind::kCpu) return c10::Device(c10::kCPU);
  const std::string prefix = "cuda:";
  int index = -1;
  if (device.name.rfind(prefix, 0) == 0 && device.name.size() > prefix.size() && device.name.size() <= prefix.size() + 3 &&
      device.name.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
    index = std::stoi(device.name.substr(prefix.size()));
  if (index < 0) throw Error("device " + Quote(device.name) + ": allot's runtime runs GPUs named cuda:K");
  if (!at::hasCUDA())
    throw Error("device " + Quote(device.name) +
                ": this LibTorch has no CUDA (Debian's libtorch-dev is CPU-only; see README, GPU, to build against a "
                "CUDA LibTorch)");
  const int count = CudaDeviceCount();
  if (index >= count)
    throw Error("device " + Quote(device.name) + ": this machine has " + std::to_string(count) + " CUDA device" +
                (count == 1 ? "" : "s"));
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

c10::Stream WorkerStream(c10::Device device) {
  return c10::impl::VirtualGuardImpl(device.type()).getStreamFromGlobalPool(device);
}

void UseStream(c10::Stream stream) {
  const c10::impl::VirtualGuardImpl impl(stream.device_type());
  impl.setDevice(stream.device());
  impl.exchangeStream(stream);
}

c10::Stream CurrentStream(c10::Device device) { return c10::impl::VirtualGuardImpl(device.type()).getStream(device); }

void SynchronizeCurrent(c10::Device device) {
  if (device.is_cpu()) return;
  CurrentStream(device).synchronize();
}

}  // namespace allot::runtime
