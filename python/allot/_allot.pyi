"""Type stubs for allot's C++ extension (python/*.cc). Arrays are NumPy copies: index-like values and byte counts
int64, times and FLOPs float64."""
from typing import Any, Mapping, Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Placement = npt.ArrayLike  # any integer sequence: one device index per node (or per unit for Units.expand)

class AllotError(ValueError):
    """Bad input (a model, cluster, spec or placement file): the CLI's one-line message."""

def load_model(model: str, mode: str = "inference", optimizer: str = "momentum", batch: int = 0, seq: int = 0,
               dims: Mapping[str, int] = ..., check: bool = True) -> Model:
    """An ONNX file, a JSON cost graph (*.json) or 'gen:SPEC', loaded as `allot` loads it. mode='training' adds the
    backward and optimizer ops; batch, seq and dims bind symbolic dimensions."""

def cluster_presets() -> list[tuple[str, str]]:
    """(name, description) of each preset cluster."""

def placers() -> list[dict[str, Any]]:
    """Every registered placer: {'name', 'description', 'options': [{'name', 'default', 'help'}]}."""

class Model:
    """A model's operator graph (inference, or a training step), read-only."""
    @property
    def source(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def num_edges(self) -> int: ...
    @property
    def graph_hash(self) -> str: ...
    @property
    def node_names(self) -> list[str]: ...
    @property
    def op_types(self) -> list[str]: ...
    @property
    def op_type_ids(self) -> tuple[IntArray, list[str]]:
        """(ids, names): per node an index into names (op types in first-seen order)."""
    @property
    def roles(self) -> npt.NDArray[np.int8]:
        """Per node: 0 forward, 1 gradient, 2 optimizer update."""
    @property
    def forward(self) -> IntArray:
        """Per node: the forward op a gradient or update op runs with; -1 for forward ops."""
    @property
    def flops(self) -> FloatArray: ...
    @property
    def bytes_accessed(self) -> FloatArray: ...
    @property
    def output_bytes(self) -> IntArray: ...
    @property
    def parameter_bytes(self) -> IntArray: ...
    @property
    def successors(self) -> tuple[IntArray, IntArray, IntArray]:
        """CSR (offsets [N+1], nodes [E], bytes [E])."""
    @property
    def predecessors(self) -> tuple[IntArray, IntArray, IntArray]:
        """CSR (offsets [N+1], nodes [E], bytes [E])."""
    @property
    def topological_order(self) -> IntArray: ...

class Cluster:
    """Devices and links: a preset name or a cluster JSON file."""
    def __init__(self, name_or_path: str) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def num_devices(self) -> int: ...
    @property
    def device_names(self) -> list[str]: ...
    @property
    def devices(self) -> list[dict[str, Any]]: ...
    def transfer_time(self, src: int, dst: int, bytes: int) -> float:
        """Seconds to move bytes from device src to dst on an idle network."""
    def to_json(self) -> str: ...

class SimResult:
    """One simulated step."""
    step_time: float  # seconds
    valid: bool  # False: some device ran out of memory
    error: str
    busy: FloatArray  # per device, seconds of compute
    peak_memory: IntArray  # per device, bytes
    link_bytes: IntArray  # per link
    transferred_bytes: int
    transfers_count: int
    schedule: dict[str, dict[str, npt.NDArray[Any]]] | None
    """With schedule=True: {'ops': {node, device, start, end}, 'transfers': {tensor, src, dst, bytes, start, end}}."""

class PlaceResult:
    placer: str
    options: str  # 'key=value,...'
    options_json: str
    placement: IntArray  # one device per node
    result: SimResult
    seconds: float  # time the placer took
    search_curve: list[tuple[int, float, float]]  # learned placers: (placements evaluated, best step time, seconds)

class Units:
    """Decision units: groups of nodes placed as one."""
    @property
    def num_units(self) -> int: ...
    def __len__(self) -> int: ...
    @property
    def unit_of(self) -> IntArray:
        """Per node: its unit."""
    @property
    def members(self) -> tuple[IntArray, IntArray]:
        """CSR (offsets [U+1], nodes)."""
    @property
    def names(self) -> list[str]: ...
    @property
    def flops(self) -> FloatArray: ...
    @property
    def bytes_accessed(self) -> FloatArray: ...
    @property
    def memory_bytes(self) -> IntArray: ...
    @property
    def first_rank(self) -> IntArray:
        """Per unit: the earliest topological position of its nodes."""
    def edges(self) -> tuple[IntArray, IntArray, IntArray]:
        """(src, dst, bytes): directed unit edges."""
    @property
    def adjacency(self) -> tuple[IntArray, IntArray, IntArray]:
        """Undirected CSR (offsets [U+1], units, bytes)."""
    def expand(self, unit_devices: Placement) -> IntArray:
        """One device per unit -> one per node (co-location and pins applied)."""

class Problem:
    """A model on a cluster: costs, simulator, placers and placement files."""
    def __init__(self, model: Model, cluster: str | Cluster = "p100x4", profile: str = "",
                 order: str = "fifo") -> None: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def num_devices(self) -> int: ...
    @property
    def cluster(self) -> Cluster: ...
    @property
    def lower_bound(self) -> float:
        """Seconds: no placement's step is faster."""
    @property
    def costs(self) -> FloatArray:
        """[nodes, devices]: seconds each op takes on each device."""
    @property
    def groups(self) -> Units:
        """The forced co-location groups."""
    @property
    def pinned(self) -> IntArray:
        """Per node: the device it is pinned to, or -1."""
    def units(self, max_units: int = 0, fuse_chains: bool = False, fuse_elementwise: bool = False) -> Units: ...
    def simulate(self, placement: Placement, legalize: bool = False, schedule: bool = False) -> SimResult:
        """One simulated step of exactly this placement (legalize=True: co-location and pins first, as a placement
        file gets). The GIL is released while it runs, so threads simulate in parallel."""
    def native_seconds(self, placement: Placement, repeats: int = 100) -> float:
        """Benchmark reference: seconds per C++ Simulator::Run, without Python."""
    def place(self, placer: str, seed: int = -1) -> PlaceResult:
        """Runs a placer by spec 'NAME[:key=value,...]', as `allot place` does."""
    def write_placement(self, path: str, placement: Placement, placer: str = "python",
                        options: Mapping[str, Any] | None = None) -> None:
        """Writes a placement file (atomically) that `allot simulate`, `run` and `compare --placements` read."""
    def read_placement(self, path: str) -> IntArray: ...
