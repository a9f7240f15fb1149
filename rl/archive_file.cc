#include "rl/archive_file.h"

#include <ATen/Functions.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <string_view>
#include <vector>

#include "graph/error.h"
#include "graph/file_io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "allot's archives store tensors in little-endian byte order"
#endif

namespace allot::rl {
namespace {

constexpr std::string_view kMagic = "allot archive 2\n";
constexpr size_t kHeader = kMagic.size() + 24;  // magic, index length, data length, hash (u64 LE each)
constexpr size_t kMaxIndex = size_t{64} << 20;
constexpr size_t kMaxDims = 8;

uint64_t Fnv1a(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return v;
}

// The dtypes an archive holds, by their names in the index.
struct DtypeName {
  at::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {{at::kFloat, "float32"}, {at::kDouble, "float64"}, {at::kLong, "int64"},
                                 {at::kInt, "int32"},     {at::kByte, "uint8"},     {at::kBool, "bool"}};

const char* NameOf(at::ScalarType t) {
  for (const DtypeName& d : kDtypes)
    if (d.type == t) return d.name;
  throw Error(std::string("an archive cannot hold a tensor of ") + c10::toString(t));
}

bool TypeOf(const std::string& name, at::ScalarType* t) {
  for (const DtypeName& d : kDtypes)
    if (name == d.name) {
      *t = d.type;
      return true;
    }
  return false;
}

}  // namespace

struct ArchiveWriter::Store {
  nlohmann::ordered_json index = nlohmann::ordered_json::array();
  std::string data;
  std::map<std::string, bool> keys;

  void Add(const std::string& key, const char* kind, at::ScalarType dtype, const std::vector<int64_t>& shape,
           const void* bytes, size_t size) {
    if (!keys.emplace(key, true).second) throw Error("archive: key '" + key + "' is written twice");
    nlohmann::ordered_json e;
    e["key"] = key;
    e["kind"] = kind;
    e["dtype"] = NameOf(dtype);
    e["shape"] = shape;
    e["offset"] = data.size();
    e["bytes"] = size;
    index.push_back(std::move(e));
    data.append(static_cast<const char*>(bytes), size);
  }
};

ArchiveWriter::ArchiveWriter() : store_(std::make_shared<Store>()) {}
ArchiveWriter::ArchiveWriter(std::shared_ptr<Store> store, std::string prefix)
    : store_(std::move(store)), prefix_(std::move(prefix)) {}

ArchiveWriter ArchiveWriter::Scope(const std::string& name) const { return ArchiveWriter(store_, prefix_ + name + "/"); }

void ArchiveWriter::PutTensor(const std::string& key, const at::Tensor& t) {
  const at::Tensor c = t.detach().cpu().contiguous();
  store_->Add(prefix_ + key, "tensor", c.scalar_type(), c.sizes().vec(), c.data_ptr(), c.nbytes());
}

void ArchiveWriter::PutDouble(const std::string& key, double v) {
  store_->Add(prefix_ + key, "double", at::kDouble, {}, &v, sizeof v);
}

void ArchiveWriter::PutInt(const std::string& key, int64_t v) {
  store_->Add(prefix_ + key, "int", at::kLong, {}, &v, sizeof v);
}

void ArchiveWriter::PutBool(const std::string& key, bool v) {
  const uint8_t b = v ? 1 : 0;
  store_->Add(prefix_ + key, "bool", at::kByte, {}, &b, 1);
}

void ArchiveWriter::PutString(const std::string& key, const std::string& v) {
  store_->Add(prefix_ + key, "string", at::kByte, {static_cast<int64_t>(v.size())}, v.data(), v.size());
}

std::string SealArchive(std::string_view index, std::string_view data) {
  std::string file(kMagic);
  PutU64(file, index.size());
  PutU64(file, data.size());
  PutU64(file, Fnv1a(data, Fnv1a(index)));
  file += index;
  file += data;
  return file;
}

std::string ArchiveWriter::Bytes() const {
  return SealArchive(nlohmann::ordered_json{{"entries", store_->index}}.dump(), store_->data);
}

void ArchiveWriter::Save(const std::string& path) const { WriteFileAtomic(path, Bytes()); }

ArchiveReader::ArchiveReader(std::shared_ptr<const Store> store, std::string prefix)
    : store_(std::move(store)), prefix_(std::move(prefix)) {}

ArchiveReader ArchiveReader::Load(const std::string& path) {
  std::string bytes;
  try {
    bytes = ReadFile(path);
  } catch (const Error& e) {
    throw Error(std::string("cannot read ") + e.what());
  }
  return Parse(bytes, path);
}

ArchiveReader ArchiveReader::Parse(const std::string& file, const std::string& source) {
  const std::string_view bytes(file);
  auto bad = [&](const std::string& what) { return Error("cannot read " + source + ": " + what); };
  if (bytes.size() < kHeader || bytes.substr(0, kMagic.size()) != kMagic)
    throw bad("not written by this version of allot (no allot archive header)");
  const uint64_t index_size = GetU64(bytes.substr(kMagic.size(), 8)),
                 data_size = GetU64(bytes.substr(kMagic.size() + 8, 8));
  const std::string_view body = bytes.substr(kHeader);
  if (index_size > kMaxIndex || index_size > body.size() || body.size() - index_size != data_size)
    throw bad("truncated or extended (its length does not match its header)");
  const std::string_view index_text = body.substr(0, index_size), data = body.substr(index_size);
  if (GetU64(bytes.substr(kMagic.size() + 16, 8)) != Fnv1a(data, Fnv1a(index_text)))
    throw bad("damaged (its contents do not match the hash in its header)");

  auto store = std::make_shared<Store>();
  store->source = source;
  store->data = std::string(data);
  const nlohmann::json index = nlohmann::json::parse(index_text, nullptr, /*allow_exceptions=*/false);
  if (!index.is_object() || !index.contains("entries") || !index["entries"].is_array())
    throw bad("malformed index (no entry list)");
  for (const nlohmann::json& e : index["entries"]) {
    const auto field = [&](const char* name) -> const nlohmann::json& {
      if (!e.is_object() || !e.contains(name)) throw bad(std::string("an index entry lacks '") + name + "'");
      return e[name];
    };
    const nlohmann::json& key = field("key");
    if (!key.is_string() || key.get_ref<const std::string&>().size() > 4096) throw bad("an index entry's key is not a name");
    const std::string& k = key.get_ref<const std::string&>();
    Entry entry;
    const nlohmann::json &kind = field("kind"), &dtype = field("dtype"), &shape = field("shape"),
                         &offset = field("offset"), &size = field("bytes");
    if (!kind.is_string() || !dtype.is_string() || !TypeOf(dtype.get<std::string>(), &entry.dtype))
      throw bad("entry '" + k + "' has no known kind and dtype");
    entry.kind = kind.get<std::string>();
    if (!shape.is_array() || shape.size() > kMaxDims) throw bad("entry '" + k + "' has a malformed shape");
    uint64_t numel = 1;
    for (const nlohmann::json& d : shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > data.size()) throw bad("entry '" + k + "' has a malformed shape");
      const uint64_t n = d.get<uint64_t>();
      entry.shape.push_back(static_cast<int64_t>(n));
      if (n != 0 && numel > data.size() / n) throw bad("entry '" + k + "' is larger than the file");
      numel *= n;
    }
    if (!offset.is_number_unsigned() || !size.is_number_unsigned()) throw bad("entry '" + k + "' has a malformed extent");
    entry.offset = offset.get<uint64_t>();
    entry.bytes = size.get<uint64_t>();
    if (entry.offset > data.size() || entry.bytes > data.size() - entry.offset)
      throw bad("entry '" + k + "' lies outside the file");
    if (numel * c10::elementSize(entry.dtype) != entry.bytes) throw bad("entry '" + k + "' has a size that does not fit its shape");
    const bool scalar = entry.shape.empty();
    const bool fits = entry.kind == "tensor" || (entry.kind == "double" && scalar && entry.dtype == at::kDouble) ||
                      (entry.kind == "int" && scalar && entry.dtype == at::kLong) ||
                      (entry.kind == "bool" && scalar && entry.dtype == at::kByte) ||
                      (entry.kind == "string" && entry.shape.size() == 1 && entry.dtype == at::kByte);
    if (!fits) throw bad("entry '" + k + "' is a " + entry.kind + " of another dtype or shape");
    if (!store->entries.emplace(k, std::move(entry)).second) throw bad("key '" + k + "' appears twice");
  }
  return ArchiveReader(std::move(store), "");
}

ArchiveReader ArchiveReader::Scope(const std::string& name) const { return ArchiveReader(store_, prefix_ + name + "/"); }

bool ArchiveReader::Has(const std::string& key) const { return store_->entries.count(prefix_ + key) != 0; }

const ArchiveReader::Entry& ArchiveReader::Find(const std::string& key, const char* kind) const {
  const auto it = store_->entries.find(prefix_ + key);
  if (it == store_->entries.end()) throw Error(store_->source + ": no entry '" + prefix_ + key + "'");
  if (it->second.kind != kind)
    throw Error(store_->source + ": entry '" + prefix_ + key + "' is a " + it->second.kind + ", not a " + kind);
  return it->second;
}

at::Tensor ArchiveReader::GetTensor(const std::string& key) const {
  const Entry& e = Find(key, "tensor");
  at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
  if (e.bytes > 0) std::memcpy(t.data_ptr(), store_->data.data() + e.offset, e.bytes);
  return t;
}

double ArchiveReader::GetDouble(const std::string& key) const {
  double v;
  std::memcpy(&v, store_->data.data() + Find(key, "double").offset, sizeof v);
  return v;
}

int64_t ArchiveReader::GetInt(const std::string& key) const {
  int64_t v;
  std::memcpy(&v, store_->data.data() + Find(key, "int").offset, sizeof v);
  return v;
}

bool ArchiveReader::GetBool(const std::string& key) const {
  const uint8_t b = static_cast<uint8_t>(store_->data[Find(key, "bool").offset]);
  if (b > 1) throw Error(store_->source + ": entry '" + prefix_ + key + "' is not a boolean");
  return b == 1;
}

std::string ArchiveReader::GetString(const std::string& key) const {
  const Entry& e = Find(key, "string");
  return store_->data.substr(e.offset, e.bytes);
}

std::vector<std::string> ArchiveReader::Keys() const {
  std::vector<std::string> out;
  for (auto it = store_->entries.lower_bound(prefix_); it != store_->entries.end(); ++it) {
    if (it->first.compare(0, prefix_.size(), prefix_) != 0) break;
    out.push_back(it->first.substr(prefix_.size()));
  }
  return out;
}

}  // namespace allot::rl
