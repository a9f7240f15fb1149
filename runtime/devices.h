#pragma once
// allot's devices as LibTorch sees them. `cpu:k` are virtual CPU devices (threads of this process, sharing host
// memory); `cuda:k` is this machine's CUDA device k. CUDA needs a LibTorch built with it (Debian's libtorch-dev is
// CPU-only; README "GPU" says how to build against a CUDA LibTorch). Only device-generic c10 interfaces are used
// (c10::Stream, c10::Event, the device guard), so this file compiles against either LibTorch and the same binary
// runs CPU-only where no GPU is present.
#include <string>

#include <c10/core/Device.h>
#include <c10/core/Stream.h>

#include "cost_model/cluster.h"

namespace allot::runtime {

// The LibTorch device that runs allot's device `device`. Throws Error naming the device when this LibTorch has no
// CUDA or this machine has fewer CUDA devices than its index needs.
c10::Device TorchDevice(const Device& device);

// Whether this LibTorch can run CUDA devices here, and how many.
int CudaDeviceCount();

// A stream of its own for a worker that runs device `device` (a CUDA device), from LibTorch's pool.
c10::Stream WorkerStream(c10::Device device);

// Makes `stream` (and its device) current on the calling thread, for the rest of the thread's life.
void UseStream(c10::Stream stream);

// The calling thread's current stream on `device` (a CUDA device).
c10::Stream CurrentStream(c10::Device device);

// Waits until the calling thread's current stream on `device` has finished its work; nothing for a CPU device.
void SynchronizeCurrent(c10::Device device);

}  // namespace allot::runtime
