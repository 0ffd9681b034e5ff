#include "fuzz_targets.hpp"

#include "sbi/core/error.hpp"
#include "sbi/inference/posterior.hpp"
#include "sbi/io/checksum.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/nn/serialize.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/spec/spec.hpp"
#include "simulators/from_spec.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <typeinfo>

// Set by AddressSanitizer builds: called when ASan or UBSan ends the program.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace sbi::fuzz {

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::uint64_t get_u64(const std::string& s, std::size_t at) {
  std::uint64_t v;
  std::memcpy(&v, s.data() + at, 8);
  return v;
}

void set_u64(std::string& s, std::size_t at, std::uint64_t v) { std::memcpy(s.data() + at, &v, 8); }

// ------------------------------------------------------------------------------------------------
// Crash capture: the input of the case in flight is written out by a signal handler (or by the
// sanitizers' death callback) before the process ends.

char g_crash_path[4096];
const std::string* g_input = nullptr;

void save_input_now() {
  if (!g_input || g_crash_path[0] == '\0') return;
  const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const char* data = g_input->data();
  std::size_t left = g_input->size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n <= 0) break;
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(fd);
  const char note[] = "\n[fuzz] the input of the crashing case was saved as a regression input\n";
  [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, note, sizeof note - 1);
}

extern "C" void on_crash(int signal) {
  save_input_now();
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

void install_crash_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_input_now);
  // A stack overflow needs a stack of its own to report on.
  static char alternate_stack[1 << 16];
  stack_t ss{};
  ss.ss_sp = alternate_stack;
  ss.ss_size = sizeof alternate_stack;
  ::sigaltstack(&ss, nullptr);
  struct sigaction action {};
  action.sa_handler = on_crash;
  action.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) {
    // Keep a sanitizer's own handler where it installed one (it calls the death callback).
    struct sigaction current {};
    ::sigaction(sig, nullptr, &current);
    if (current.sa_handler == SIG_DFL) ::sigaction(sig, &action, nullptr);
  }
}

// ------------------------------------------------------------------------------------------------
// Mutations

const std::vector<std::string> kInterestingTokens = {
    "0", "-1", "1", "2", "1e308", "1e400", "-1e400", "1e-400", "18446744073709551615", "18446744073709551616",
    "9223372036854775807", "-9223372036854775808", "4294967296", "nan", "inf", "-inf", "1.5", "null", "true", "\"\"",
    "[]", "{}", "[[[[[[[[", "\"a,b\"", "\"#x\"", "65536", "1e9"};

const std::uint64_t kInterestingWords[] = {0,
                                           1,
                                           2,
                                           0xff,
                                           0x7fffffffffffffffULL,
                                           0x8000000000000000ULL,
                                           0xffffffffffffffffULL,
                                           0xfffffffffffffff0ULL,
                                           std::uint64_t{1} << 32,
                                           std::uint64_t{1} << 40};

const char kInterestingBytes[] = {'\0', '\xff', '\x7f', '\x80', '0', '9', '-', '.', 'e', ',', '\n', '"', '#', '[', ']', '{', '}', ':', ' ', '\r'};

void mutate_once(std::string& s, const std::vector<std::string>& corpus, Rng& rng) {
  const std::uint64_t op = rng.below(11);
  const std::size_t n = s.size();
  switch (op) {
    case 0:  // flip a bit
      if (n) s[rng.below(n)] ^= static_cast<char>(1u << rng.below(8));
      break;
    case 1:  // a random byte
      if (n) s[rng.below(n)] = static_cast<char>(rng.below(256));
      break;
    case 2:  // an interesting byte
      if (n) s[rng.below(n)] = kInterestingBytes[rng.below(sizeof kInterestingBytes)];
      break;
    case 3: {  // insert random bytes
      const std::size_t at = rng.below(n + 1), count = 1 + rng.below(8);
      std::string bytes(count, '\0');
      for (auto& c : bytes) c = static_cast<char>(rng.below(256));
      s.insert(at, bytes);
      break;
    }
    case 4:  // delete a range
      if (n) {
        const std::size_t at = rng.below(n);
        s.erase(at, 1 + rng.below(std::min<std::size_t>(64, n - at)));
      }
      break;
    case 5:  // duplicate a range
      if (n) {
        const std::size_t at = rng.below(n), count = 1 + rng.below(std::min<std::size_t>(64, n - at));
        s.insert(rng.below(n + 1), s.substr(at, count));
      }
      break;
    case 6:  // truncate
      s.resize(rng.below(n + 1));
      break;
    case 7: {  // replace a run of digits (a number in text) by an interesting token
      if (!n) break;
      std::size_t at = rng.below(n);
      while (at < n && !std::isdigit(static_cast<unsigned char>(s[at]))) ++at;
      if (at == n) break;
      std::size_t end = at;
      while (end < n && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.' || s[end] == 'e' || s[end] == '-')) ++end;
      s.replace(at, end - at, kInterestingTokens[rng.below(kInterestingTokens.size())]);
      break;
    }
    case 8:  // an interesting 64-bit word (lengths, counts, offsets of binary formats)
      if (n >= 8) set_u64(s, rng.below(n - 7), kInterestingWords[rng.below(std::size(kInterestingWords))]);
      break;
    case 9:  // insert an interesting token
      s.insert(rng.below(n + 1), kInterestingTokens[rng.below(kInterestingTokens.size())]);
      break;
    case 10: {  // splice: a prefix of this input, a suffix of another
      const std::string& other = corpus[rng.below(corpus.size())];
      s = s.substr(0, rng.below(n + 1)) + other.substr(rng.below(other.size() + 1));
      break;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Resealing: checksums recomputed after a mutation, so that the parsing behind them is reached.

std::string reseal_binary_table(std::string s) {
  if (s.size() < 16 || s.rfind("SBITBL02", 0) != 0) return s;
  const std::uint64_t length = get_u64(s, 8);
  if (length > s.size() - 16) return s;
  const std::size_t meta_end = 16 + length;
  if (s.size() < meta_end + 160) return s;
  const std::uint64_t head = fnv1a64(std::string_view(s.data(), meta_end));
  for (std::size_t slot = meta_end; slot < meta_end + 160; slot += 80) {
    set_u64(s, slot + 64, head);
    set_u64(s, slot + 72, fnv1a64(std::string_view(s.data() + slot, 72)));
  }
  // Blocks: the declared rows, at the row size the metadata gives (if it parses).
  std::size_t values = 0;
  try {
    const auto j = nlohmann::json::parse(s.substr(16, length));
    values = j.at("parameter_names").size() + j.at("data_names").size();
  } catch (...) {
    return s;
  }
  std::size_t at = meta_end + 160;
  const std::size_t row_bytes = 8 * (1 + values);
  while (at + 32 <= s.size()) {
    const std::uint64_t rows = get_u64(s, at + 8);
    if (rows == 0 || rows > (s.size() - at - 32) / row_bytes) break;
    set_u64(s, at + 16, fnv1a64(std::string_view(s.data() + at + 32, rows * row_bytes)));
    set_u64(s, at + 24, fnv1a64(std::string_view(s.data() + at, 24)));
    at += 32 + rows * row_bytes;
  }
  return s;
}

std::string reseal_csv_table(std::string s) {
  // Block lines: the rows since the previous block line (or the header).
  std::size_t line_start = 0, block_start = std::string::npos, rows = 0;
  std::string out;
  std::uint64_t head = kFnv1a64Basis;
  int line_number = 0;
  while (line_start < s.size()) {
    std::size_t end = s.find('\n', line_start);
    const bool last = end == std::string::npos;
    if (last) end = s.size();
    std::string line = s.substr(line_start, end - line_start);
    ++line_number;
    if (line_number == 1) head = fnv1a64(line + "\n");
    if (line_number == 4) head = fnv1a64(line + "\n", head);
    if (line.rfind("# sbi-block ", 0) == 0 && block_start != std::string::npos) {
      const std::string block = out.substr(block_start);
      line = "# sbi-block rows=" + std::to_string(rows) + " fnv1a64=" + hex64(fnv1a64(block));
      block_start = out.size() + line.size() + 1;
      rows = 0;
    } else if (line_number >= 4) {
      if (line_number == 4) block_start = out.size() + line.size() + 1;
      else ++rows;
    }
    out += line;
    if (!last) out += '\n';
    line_start = end + 1;
  }
  // Commit lines (2 and 3): the head checksum and each line's own.
  std::size_t at = out.find('\n');
  for (int k = 0; k < 2 && at != std::string::npos; ++k) {
    const std::size_t begin = at + 1;
    const std::size_t end = out.find('\n', begin);
    if (end == std::string::npos) break;
    std::string line = out.substr(begin, end - begin);
    const auto head_at = line.find(" head=");
    const auto check_at = line.find(" check=");
    if (head_at != std::string::npos && check_at != std::string::npos && check_at == head_at + 22 && line.size() == check_at + 23) {
      line.replace(head_at + 6, 16, hex64(head));
      line.replace(check_at + 7, 16, hex64(fnv1a64(line.substr(0, check_at))));
      out.replace(begin, line.size(), line);
    }
    at = end;
  }
  return out;
}

std::string reseal_table(std::string s) {
  const bool binary = s.size() >= 8 && std::memcmp(s.data(), "SBITBL02", 8) == 0;
  return binary ? reseal_binary_table(std::move(s)) : reseal_csv_table(std::move(s));
}

std::string reseal_network(std::string s) {
  if (s.size() < 16 || s.rfind("SBINNET\n", 0) != 0) return s;
  const std::uint64_t length = get_u64(s, 8);
  if (length > s.size() - 16) return s;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(s.substr(16, length));
    if (!header.is_object()) return s;
  } catch (...) {
    return s;
  }
  const std::string data = s.substr(16 + length);
  header["checksum"] = "fnv1a64:" + hex64(fnv1a64(data));
  const std::string text = header.dump();
  std::string out = s.substr(0, 8);
  out.resize(16);
  set_u64(out, 8, text.size());
  return out + text + data;
}

// ------------------------------------------------------------------------------------------------
// Packed folders

bool parse_pack(const std::string& input, std::vector<std::pair<std::string, std::string>>& files) {
  std::size_t at = 0;
  while (at < input.size()) {
    const auto zero = input.find('\0', at);
    if (zero == std::string::npos || zero == at || zero - at > 255 || input.size() - zero - 1 < 8) return false;
    std::string name = input.substr(at, zero - at);
    if (name.find('/') != std::string::npos || name.front() == '.') return false;
    const std::uint64_t size = get_u64(input, zero + 1);
    const std::size_t content = zero + 9;
    if (size > input.size() - content) return false;
    files.emplace_back(std::move(name), input.substr(content, size));
    at = content + size;
  }
  return !files.empty();
}

std::string make_pack(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  for (const auto& [name, content] : files) {
    out += name;
    out += '\0';
    std::string size(8, '\0');
    set_u64(size, 0, content.size());
    out += size + content;
  }
  return out;
}

// A packed folder mutates one of its files (the file names stay).
std::string mutate_posterior(const std::string& input, const std::vector<std::string>& corpus, Rng& rng) {
  std::vector<std::pair<std::string, std::string>> files;
  if (!parse_pack(input, files)) return mutate(input, corpus, rng);
  // posterior.json half of the time, else any file.
  std::size_t pick = rng.below(files.size());
  if (rng.below(2) == 0)
    for (std::size_t k = 0; k < files.size(); ++k)
      if (files[k].first == "posterior.json") pick = k;
  auto& chosen = files[pick];
  std::vector<std::string> same_kind;
  for (const auto& packed : corpus) {
    std::vector<std::pair<std::string, std::string>> others;
    if (!parse_pack(packed, others)) continue;
    for (const auto& [name, content] : others)
      if (name == chosen.first) same_kind.push_back(content);
  }
  if (same_kind.empty()) same_kind.push_back(chosen.second);
  chosen.second = mutate(chosen.second, same_kind, rng);
  return make_pack(files);
}

std::string reseal_posterior(std::string input) {
  std::vector<std::pair<std::string, std::string>> files;
  if (!parse_pack(input, files)) return input;
  for (auto& [name, content] : files) {
    if (name != "posterior.json") continue;
    try {
      auto document = nlohmann::json::parse(content);
      if (!document.is_object() || !document.contains("files") || !document["files"].is_object()) return input;
      for (const auto& [other, bytes] : files)
        if (document["files"].contains(other))
          document["files"][other] = {{"bytes", bytes.size()}, {"fnv1a64", hex64(fnv1a64(bytes))}};
      content = document.dump(2);
    } catch (...) {
      return input;
    }
  }
  return make_pack(files);
}

// ------------------------------------------------------------------------------------------------
// Corpora

// A posterior kind for the corpus: a network and a CSV file, saved through Posterior::save.
class CorpusPosterior final : public PosteriorModel {
 public:
  CorpusPosterior() : prior_(prior_from_json(nlohmann::json::parse(R"([{"name": "a", "dist": "uniform", "low": 0, "high": 1},
                                                                       {"name": "b", "dist": "normal", "mu": 0, "sigma": 2}])"))) {
    info_.kind = "fuzz_corpus";
    info_.method = "fuzz";
    data_ = {"y1", "y2", "y3"};
  }
  const PosteriorInfo& info() const override { return info_; }
  const Names& parameter_names() const override { return prior_->names(); }
  const Names& data_names() const override { return data_; }
  const Prior& prior() const override { return *prior_; }
  PriorPtr prior_ptr() const override { return prior_; }
  RowMatrix sample(const Vector&, Eigen::Index n, std::uint64_t) const override { return RowMatrix::Zero(n, 2); }
  nlohmann::json save_state(const fs::path& folder, std::vector<std::string>& files) const override {
    nn::MlpOptions options;
    options.widths = {3, 4, 2};
    options.spectral_norm = true;
    nn::Mlp network(options, 5);
    network.set_standardizer(nn::Standardizer::fit(Eigen::MatrixXf::Random(8, 3)));
    nn::save(network, folder / "network.sbinn");
    files.push_back("network.sbinn");
    write_csv(folder / "curve.csv", {"iteration", "loss"}, (RowMatrix(2, 2) << 1, 0.5, 2, 0.25).finished());
    files.push_back("curve.csv");
    return {{"network", "network.sbinn"}, {"curve", "curve.csv"}};
  }

 private:
  PosteriorInfo info_;
  PriorPtr prior_;
  Names data_;
};

std::vector<std::string> spec_corpus(const fs::path& scratch) {
  std::vector<std::string> corpus;
  for (const auto& entry : fs::directory_iterator(fs::path(SBI_SOURCE_DIR) / "data" / "specs"))
    if (entry.path().extension() == ".json") corpus.push_back(read_bytes(entry.path()));
  std::sort(corpus.begin(), corpus.end());  // directory order is not deterministic
  write_bytes(scratch / "obs.csv", "data_2,data_1\n1.5,0.5\n");
  corpus.push_back(R"({"simulator": {"name": "two_moons"}, "observation": {"file": "obs.csv"}, "seed": 3,
                       "simulation": {"failure_policy": "redraw", "max_redraws": 5}, "output": {"samples": 10}})");
  corpus.push_back(R"({"simulator": {"name": "gaussian_linear", "options": {"dim": 3}},
                       "prior": [{"dist": "mvnormal", "names": ["a", "b"], "mean": [0, 0], "cov": [[1, 0.5], [0.5, 1]]},
                                 {"name": "c", "dist": "lognormal", "mu": 0, "sigma": 1}],
                       "true_parameters": [0.1, 0.2, 0.3], "inference": {"method": "lfvi"}})");
  corpus.push_back(R"({"simulator": {"command": ["python3", "sim.py"], "protocol": "object", "workers": 2,
                       "data_names": ["m", "s"]}, "prior": [{"name": "a", "dist": "normal", "mu": 0, "sigma": 1}],
                       "observation": [1, 2]})");
  return corpus;
}

std::vector<std::string> csv_corpus() {
  return {"a,b,c\n1,2,3\n",
          "# comment\ny1,y2\n1.5,-2e-3\n",
          "\"x\",\"y,z\"\nnan,inf\n-inf,1\n",
          "index,a\n0,1\n1,2\n2,3\n3,4\n",
          "y3, y1 ,y2\r\n3,1,2\r\n",
          "y1,y2,y3\n1e-300,-0,5e+300\n"};
}

std::vector<std::string> table_corpus(const fs::path& scratch) {
  std::vector<std::string> corpus;
  SimulatorInfo info{"corpus", {"a", "b"}, {"y1", "y2", "y3"}};
  info.options = {{"noise", 0.5}};
  for (auto format : {TableFormat::binary, TableFormat::csv}) {
    const auto path = scratch / (format == TableFormat::csv ? "corpus.csv" : "corpus.sbt");
    {
      TableWriter writer(path, format, TableMetadata::for_simulator(info, 7));
      for (std::uint64_t b = 0; b < 3; ++b) {
        SimulationChunk chunk;
        chunk.theta.resize(3, 2);
        chunk.y.resize(3, 3);
        for (Eigen::Index r = 0; r < 3; ++r) {
          const std::uint64_t index = 4 * b + static_cast<std::uint64_t>(r);  // gaps: dropped indices
          chunk.indices.push_back(index);
          chunk.theta.row(r) << 0.25 * static_cast<double>(index), -1.0 / 3.0;
          chunk.y.row(r) << static_cast<double>(index), 1e-300, -2.5e10;
        }
        chunk.next_index = 4 * b + 4;
        chunk.dropped = 1;
        writer.write(chunk);
      }
      writer.finish({});
    }
    corpus.push_back(read_bytes(path));
  }
  corpus.push_back(
      "# sbi-table {\"format_version\":1,\"simulator\":\"corpus\",\"seed\":9,\"next_index\":3,\"parameter_names\":[\"a\"],"
      "\"data_names\":[\"y\"],\"failed\":1}\nindex,a,y\n0,0.5,1\n2,1e+06,4\n");
  const std::string json = R"({"format_version":1,"simulator":"corpus","seed":9,"next_index":2,"parameter_names":["a"],"data_names":["y"]})";
  std::string v1("SBITBL01", 8);
  v1.resize(16);
  set_u64(v1, 8, json.size());
  v1 += json;
  for (std::uint64_t index : {0, 1}) {
    std::string row(24, '\0');
    set_u64(row, 0, index);
    const double values[2] = {0.5, -1.0};
    std::memcpy(row.data() + 8, values, 16);
    v1 += row;
  }
  corpus.push_back(v1);
  return corpus;
}

std::vector<std::string> network_corpus(const fs::path& scratch) {
  std::vector<std::string> corpus;
  nn::MlpOptions options;
  options.widths = {3, 5, 2};
  options.residual = true;
  nn::Mlp plain(options, 1);
  nn::save(plain, scratch / "plain.sbinn");
  corpus.push_back(read_bytes(scratch / "plain.sbinn"));
  options.spectral_norm = true;
  options.widths = {2, 4, 4, 1};
  nn::BasicMlp<double> spectral(options, 2);
  spectral.set_standardizer(nn::BasicStandardizer<double>::fit(Eigen::MatrixXd::Random(6, 2)));
  nn::save(spectral, scratch / "spectral.sbinn");
  corpus.push_back(read_bytes(scratch / "spectral.sbinn"));
  return corpus;
}

std::vector<std::string> posterior_corpus(const fs::path& scratch) {
  const auto folder = scratch / "corpus_posterior";
  Posterior(std::make_shared<CorpusPosterior>()).save(folder);
  return {pack_folder(folder)};
}

void clear_folder(const fs::path& folder) {
  std::error_code ec;
  fs::remove_all(folder, ec);
  fs::create_directories(folder);
}

}  // namespace

// ------------------------------------------------------------------------------------------------

std::string mutate(const std::string& input, const std::vector<std::string>& corpus, Rng& rng) {
  std::string s = input;
  const std::uint64_t count = 1 + rng.below(4);
  for (std::uint64_t k = 0; k < count; ++k) mutate_once(s, corpus, rng);
  return s;
}

std::string pack_folder(const fs::path& folder) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file()) files.emplace_back(entry.path().filename().string(), read_bytes(entry.path()));
  std::sort(files.begin(), files.end());
  return make_pack(files);
}

bool unpack_folder(const std::string& input, const fs::path& folder) {
  std::vector<std::pair<std::string, std::string>> files;
  if (!parse_pack(input, files)) return false;
  clear_folder(folder);
  for (const auto& [name, content] : files) write_bytes(folder / name, content);
  return true;
}

std::vector<FuzzTarget> fuzz_targets(const fs::path& scratch) {
  install_crash_handlers();
  fs::create_directories(scratch);
  std::vector<FuzzTarget> targets;
  const auto identity = [](std::string s) { return s; };

  targets.push_back({"spec", spec_corpus(scratch),
                     [scratch](const std::string& input) {
                       const auto document = parse_json_text(input, "spec.json", /*allow_comments=*/true);
                       const Spec spec = parse_spec(document, scratch);
                       // Never start a program named by a mutated spec: external simulators are parsed only.
                       if (!spec.has_external_simulator()) simulators::build_spec_model(spec);
                     },
                     identity});

  const fs::path csv_file = scratch / "input.csv";
  targets.push_back({"csv", csv_corpus(),
                     [csv_file](const std::string& input) {
                       write_bytes(csv_file, input);
                       try {  // the same file as an observation
                         read_csv(csv_file, 1, /*show_content=*/false);
                         match_observation(read_observation_file(csv_file), {"y1", "y2", "y3"}, "observation");
                       } catch (const InputError&) {
                       }
                       read_csv(csv_file);
                     },
                     identity});

  const fs::path table_file = scratch / "input.table";
  const fs::path recovered = scratch / "recovered.table";
  targets.push_back({"table", table_corpus(scratch),
                     [table_file, recovered](const std::string& input) {
                       write_bytes(table_file, input);
                       try {
                         read_table(table_file);
                       } catch (const FileError&) {
                       }
                       const auto recovery = recover_table(table_file, recovered);
                       const auto table = read_table(recovered);  // what repair writes always reads back
                       if (static_cast<std::size_t>(table.rows()) != recovery.rows_kept)
                         throw std::logic_error("repaired table has " + std::to_string(table.rows()) + " rows, recovery said " +
                                                std::to_string(recovery.rows_kept));
                     },
                     reseal_table});

  const fs::path network_file = scratch / "input.sbinn";
  targets.push_back({"network", network_corpus(scratch),
                     [network_file](const std::string& input) {
                       write_bytes(network_file, input);
                       try {
                         nn::load_mlp<float>(network_file);
                       } catch (const FileError&) {
                       }
                       nn::load_mlp<double>(network_file);
                     },
                     reseal_network});

  const fs::path posterior_folder = scratch / "posterior";
  targets.push_back({"posterior", posterior_corpus(scratch),
                     [posterior_folder](const std::string& input) {
                       if (!unpack_folder(input, posterior_folder)) return;  // not a folder: nothing to read
                       const SavedPosterior saved = read_saved_posterior(posterior_folder);
                       // What a kind's loader does with the listed files.
                       for (const auto& [name, entry] : saved.document.at("files").items()) {
                         const auto file = saved.file(name);
                         if (file.extension() == ".sbinn") nn::load_mlp<float>(file);
                         if (file.extension() == ".csv") read_csv(file);
                       }
                     },
                     reseal_posterior, mutate_posterior});
  return targets;
}

CaseResult run_case(const FuzzTarget& target, const std::string& input, const fs::path& regressions) {
  const std::string path = (regressions / target.name / ("crash-" + hex64(fnv1a64(input)))).string();
  if (path.size() < sizeof g_crash_path) std::memcpy(g_crash_path, path.c_str(), path.size() + 1);
  g_input = &input;
  CaseResult result;
  try {
    target.run(input);
  } catch (const InputError& e) {
    result.outcome = Outcome::refused;
    result.what = e.what();
  } catch (const FileError& e) {
    result.outcome = Outcome::refused;
    result.what = e.what();
  } catch (const SimulationError& e) {
    result.outcome = Outcome::refused;
    result.what = e.what();
  } catch (const std::exception& e) {
    result.outcome = Outcome::defect;
    result.what = std::string(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    result.outcome = Outcome::defect;
    result.what = "an exception that is not a std::exception";
  }
  g_input = nullptr;
  g_crash_path[0] = '\0';
  return result;
}

fs::path save_regression(const fs::path& regressions, const std::string& target, const std::string& kind, const std::string& input) {
  const auto folder = regressions / target;
  fs::create_directories(folder);
  const auto path = folder / (kind + "-" + hex64(fnv1a64(input)));
  write_bytes(path, input);
  return path;
}

}  // namespace sbi::fuzz
