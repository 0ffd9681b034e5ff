#include "simulators/external_process.hpp"

#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "simulators/external_worker.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <limits>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace sbi::simulators {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr std::size_t kDeathsBeforeFirstAnswer = 3;   // dead on start: give up early
constexpr std::size_t kDeathsAfterFirstAnswer = 25;   // it used to work: give up much later
constexpr std::size_t kWrongLengthsBeforeFirstSuccess = 3;
constexpr std::size_t kQuotedLineLength = 200;
constexpr std::size_t kMaxLineBytes = std::size_t{64} << 20;
constexpr int kMaxWorkers = 1024;

std::string quote_argument(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\"'\\") == std::string::npos) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string command_text(const std::vector<std::string>& command) {
  std::string text;
  for (const auto& a : command) {
    if (!text.empty()) text += ' ';
    text += quote_argument(a);
  }
  return text;
}

std::string quote_line(const std::string& line) {
  std::string shown = line.size() > kQuotedLineLength ? line.substr(0, kQuotedLineLength) + "..." : line;
  return nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Replaces invalid UTF-8 and control characters (other than newline and tab) by '?', so that
// messages can go into JSON and terminals unharmed.
std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out += (c >= 0x20 && c != 0x7f) || c == '\n' || c == '\t' ? static_cast<char>(c) : '?';
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) len = 2, code = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, code = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, code = c & 0x07;
    bool valid = len != 0 && i + len <= n;
    for (std::size_t k = 1; valid && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) valid = false;
      code = (code << 6) | (p[i + k] & 0x3F);
    }
    static constexpr std::uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (valid && (code < kMinimum[len] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))) valid = false;
    if (!valid) {
      out += '?';
      ++i;
      continue;
    }
    out.append(text, i, len);
    i += len;
  }
  return out;
}

std::string stderr_note(const std::string& tail) {
  std::string t = printable(tail);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) return "; it wrote nothing to stderr";
  return ". Its stderr ended with:\n" + t;
}

std::string format_seconds(double s) { return format_number(s) + " s"; }

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

void append_number(std::string& out, double x) {
  if (std::isfinite(x)) {
    out += format_number(x);
  } else {
    out += "null";
  }
}

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// Python's json.dumps writes NaN, Infinity and -Infinity, which are not JSON. Outside strings,
// turns them into the strings "NaN", "Infinity" and "-Infinity" (read back by reply_value).
std::string quote_non_finite_tokens(const std::string& line) {
  std::string out;
  out.reserve(line.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < line.size()) out += line[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const char* token : {"-Infinity", "Infinity", "NaN"}) {
      const std::size_t len = std::char_traits<char>::length(token);
      if (line.compare(i, len, token) == 0) {
        out += '"';
        out += token;
        out += '"';
        i += len - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

// A value of a reply: a number, null (NaN) or one of the non-finite spellings above.
std::optional<double> reply_value(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (v.is_string()) {
    const auto& text = v.get_ref<const std::string&>();
    if (text == "NaN" || text == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (text == "Infinity" || text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-Infinity" || text == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return std::nullopt;
}

Names default_data_names(std::size_t d) {
  Names names;
  for (std::size_t i = 1; i <= d; ++i) names.push_back("data_" + std::to_string(i));
  return names;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Options

std::string ExternalSimulatorOptions::validate() const {
  if (command.empty()) return path + ".command: expected a non-empty list of strings";
  for (std::size_t i = 0; i < command.size(); ++i)
    if (command[i].empty()) return path + ".command[" + std::to_string(i) + "]: expected a non-empty string";
  if (workers < 1 || workers > kMaxWorkers)
    return path + ".workers: expected an integer in [1, " + std::to_string(kMaxWorkers) + "], got " + std::to_string(workers);
  if (!(timeout_s > 0) || !std::isfinite(timeout_s)) return path + ".timeout_s: expected a positive number";
  if (!(startup_timeout_s >= 0) || !std::isfinite(startup_timeout_s))
    return path + ".startup_timeout_s: expected a number ≥ 0";
  if (!(shutdown_grace_s >= 0)) return path + ": shutdown grace must be ≥ 0";
  std::set<std::string> seen;
  for (const auto& name : data_names) {
    if (const auto problem = csv_name_problem(name); !problem.empty()) return path + ".data_names: " + problem;
    if (!seen.insert(name).second) return path + ".data_names: \"" + name + "\" appears twice";
  }
  return {};
}

bool is_external_simulator_section(const nlohmann::json& section) {
  return section.is_object() && section.contains("command");
}

ExternalSimulatorOptions parse_external_simulator_options(const nlohmann::json& section, const std::string& path,
                                                          const fs::path& base_directory) {
  JsonObjectReader reader(section, path);
  ExternalSimulatorOptions options;
  options.path = path;
  if (const auto* name = reader.get("name")) {
    if (!name->is_string() || name->get<std::string>() != "external")
      throw InputError(reader.child_path("name") + ": expected \"external\" (or no name) for a simulator with a " +
                       "\"command\", got " + json_type_description(*name));
  }
  options.command = reader.required_string_list("command");
  for (std::size_t i = 0; i < options.command.size(); ++i)
    if (options.command[i].empty())
      throw InputError(reader.child_path("command") + "[" + std::to_string(i) + "]: expected a non-empty string, got \"\"");
  options.workers = static_cast<int>(reader.optional_integer("workers", 2, 1));
  if (options.workers > kMaxWorkers)
    throw InputError(reader.child_path("workers") + ": expected at most " + std::to_string(kMaxWorkers) +
                     " worker processes, got " + std::to_string(options.workers));
  options.timeout_s = reader.optional_positive_number("timeout_s", 60.0);
  options.startup_timeout_s = reader.optional_number("startup_timeout_s", options.timeout_s);
  if (options.startup_timeout_s < 0)
    throw InputError(reader.child_path("startup_timeout_s") + ": expected a number ≥ 0, got " +
                     format_number(options.startup_timeout_s));
  options.protocol = reader.optional_string("protocol", "array", {"array", "object"}) == "object"
                         ? ExternalProtocol::object
                         : ExternalProtocol::array;
  if (reader.has("data_names")) {
    options.data_names = reader.required_string_list("data_names");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < options.data_names.size(); ++i) {
      const auto& name = options.data_names[i];
      const auto where = reader.child_path("data_names") + "[" + std::to_string(i) + "]";
      if (name.empty()) throw InputError(where + ": expected a non-empty name, got \"\"");
      if (const auto problem = csv_name_problem(name); !problem.empty()) throw InputError(where + ": " + problem);
      if (!seen.insert(name).second) throw InputError(where + ": \"" + name + "\" appears twice");
    }
  }
  const std::string working_directory = reader.optional_string("working_directory", "");
  reader.reject_unknown_keys();

  // The worker's directory: the given one (relative to the spec's folder), else the spec's folder.
  fs::path directory = working_directory.empty() ? base_directory : base_directory / working_directory;
  if (!directory.empty()) {
    std::error_code ec;
    if (!fs::is_directory(directory, ec))
      throw InputError((working_directory.empty() ? path : reader.child_path("working_directory")) +
                       ": no such directory: " + directory.string());
    directory = fs::absolute(directory, ec).lexically_normal();
  }
  options.working_directory = directory;

  // Arguments that name something in the spec's folder become absolute, so that they still work
  // when the worker runs elsewhere. A program name without '/' stays a PATH lookup.
  if (!base_directory.empty()) {
    for (std::size_t i = 0; i < options.command.size(); ++i) {
      auto& arg = options.command[i];
      if (arg.front() == '-' || fs::path(arg).is_absolute()) continue;
      if (i == 0 && arg.find('/') == std::string::npos) continue;
      std::error_code ec;
      const fs::path candidate = base_directory / arg;
      if (fs::exists(candidate, ec)) arg = fs::absolute(candidate, ec).lexically_normal().string();
    }
  }
  if (auto problem = options.validate(); !problem.empty()) throw InputError(problem);
  return options;
}

// ------------------------------------------------------------------------------------------------
// The simulator

namespace {

struct Slot {
  explicit Slot(std::size_t tail_bytes) : process(tail_bytes) {}
  detail::WorkerProcess process;
  bool busy = false;
  std::size_t row = 0;
  Clock::time_point started{};   // when the process was started
  Clock::time_point sent{};      // when the simulation in flight was sent
  Clock::time_point deadline{};
  bool answered = false;  // this process has written at least one line
  std::uint64_t request_id = 0;     // id of the request in flight (object protocol)
  std::vector<std::size_t> rows;    // rows of the current batch this process has answered
};

}  // namespace

struct ExternalProcessSimulator::State {
  ExternalSimulatorOptions options;
  SimulatorInfo info;
  detail::LaunchSpec launch;
  std::string command_text;
  std::mutex mutex;
  std::vector<std::unique_ptr<Slot>> slots;
  std::size_t data_dim = 0;  // 0 = not known yet
  std::size_t restarts = 0;
  std::size_t deaths_without_answer = 0;  // consecutive
  bool ever_answered = false;
  bool ever_succeeded = false;
  std::size_t wrong_lengths = 0;  // replies of the wrong length before the first success
  std::uint64_t next_request_id = 1;
  std::size_t surplus_workers = 0;  // workers restarted for writing more lines than requests

  std::string expected_reply() const {
    return options.protocol == ExternalProtocol::object
               ? "{\"id\": <the request's id>, \"y\": [numbers]} or {\"id\": <the request's id>, \"error\": \"...\"}"
               : "a list of numbers or {\"error\": \"...\"}";
  }

  // The batch in progress.
  struct Batch {
    const RowMatrix* theta = nullptr;
    RowMatrix* y = nullptr;
    std::span<const std::uint64_t> seeds;
    std::span<const std::uint64_t> indices;
    std::span<SimulationOutcome> outcomes;
    std::size_t remaining = 0;
  };

  std::string theta_text(const Batch& b, std::size_t row) const {
    return describe_theta(info.parameter_names, row_span(*b.theta, static_cast<Eigen::Index>(row)));
  }

  void start(Slot& slot, bool initial) {
    const std::string problem = slot.process.start(launch);
    if (!problem.empty()) {
      const std::string what = "cannot start the external simulator `" + command_text + "`" +
                               (launch.working_directory.empty() ? "" : " in " + launch.working_directory.string()) +
                               ": " + problem;
      if (initial) throw InputError(options.path + ".command: " + what);
      throw SimulationError(what);
    }
    if (!initial) ++restarts;
    slot.started = Clock::now();
    slot.busy = false;
    slot.answered = false;
    slot.rows.clear();
  }

  std::string request(const Batch& b, std::size_t row, std::uint64_t id) const {
    std::string line;
    line.reserve(32 + 24 * static_cast<std::size_t>(b.theta->cols()));
    const auto r = static_cast<Eigen::Index>(row);
    const bool object = options.protocol == ExternalProtocol::object;
    line += object ? "{\"theta\": [" : "[";
    for (Eigen::Index c = 0; c < b.theta->cols(); ++c) {
      if (c) line += ", ";
      append_number(line, (*b.theta)(r, c));
    }
    line += "]";
    if (object) {
      line += ", \"seed\": " + std::to_string(b.seeds[row]) + ", \"index\": " + std::to_string(b.indices[row]) +
              ", \"id\": " + std::to_string(id) + "}";
    }
    line += "\n";
    return line;
  }

  // True if the worker has written something (not blank) that no request asked for. Reads it.
  static bool has_surplus_output(Slot& slot) {
    if (!slot.process.running() || !slot.process.has_unread_output()) return false;
    std::vector<std::string> lines;
    slot.process.read_stdout(lines);
    for (const auto& line : lines)
      if (!trim(line).empty()) return true;
    return !trim(slot.process.partial_line()).empty();
  }

  // The worker wrote more lines than it was sent requests: it is out of step. In the array protocol
  // nothing ties a reply to its request, so every answer it gave in this batch may belong to another
  // θ: they all count as failed. (Object protocol replies carry their request's id, so its earlier
  // answers stand.) The worker is restarted.
  void surplus(Batch& b, Slot& slot) {
    const pid_t pid = slot.process.pid();
    slot.process.kill_now();
    if (options.protocol == ExternalProtocol::array) {
      for (const std::size_t row : slot.rows) {
        b.outcomes[row] = SimulationOutcome{
            SimulationStatus::failed,
            "the worker process (pid " + std::to_string(pid) + ") that answered " + theta_text(b, row) +
                " wrote more lines than it was sent requests, so its answers cannot be matched to their θ (array protocol: "
                "exactly one line per request; the object protocol's replies carry the request's id); it was restarted"};
        if (b.y->cols() > 0) b.y->row(static_cast<Eigen::Index>(row)).setConstant(std::numeric_limits<double>::quiet_NaN());
      }
    }
    slot.rows.clear();
    ++surplus_workers;
  }

  void dispatch(Slot& slot, Batch& b, std::size_t row) {
    // Output written while the worker had nothing to answer would be taken for the next reply.
    if (has_surplus_output(slot)) surplus(b, slot);
    // A worker that has exited since its last answer (e.g. between batches) is replaced before it
    // is given a simulation, so that its death is not blamed on that θ.
    if (slot.process.running() && slot.process.exited()) note_death(slot, slot.process.finish_after_eof({}));
    if (!slot.process.running()) start(slot, false);
    slot.busy = true;
    slot.row = row;
    // A worker that has not answered yet may still be starting up: its clock starts when the
    // start-up allowance has run out (or now, if that is later).
    const auto now = Clock::now();
    auto clock_start = now;
    if (!slot.answered) clock_start = std::max(now, slot.started + seconds(options.startup_timeout_s));
    slot.sent = now;
    slot.deadline = clock_start + seconds(options.timeout_s);
    slot.request_id = next_request_id++;
    if (!slot.process.send(request(b, row, slot.request_id))) {
      // The worker closed its standard input (or has gone): it can never read this request.
      if (slot.process.exited()) {
        handle_exit(b, slot);
        return;
      }
      const pid_t pid = slot.process.pid();
      slot.process.kill_now();  // collects what it wrote to stderr
      fail(b, slot, "the worker process (pid " + std::to_string(pid) + ") closed its standard input before the request for " +
                        theta_text(b, row) + "; it was restarted" + stderr_note(slot.process.stderr_tail()));
      note_death(slot, "closed its standard input");
    }
  }

  void fail(Batch& b, Slot& slot, std::string message) {
    const std::size_t row = slot.row;
    slot.busy = false;
    b.outcomes[row] = SimulationOutcome{SimulationStatus::failed, std::move(message)};
    if (b.y->cols() > 0) b.y->row(static_cast<Eigen::Index>(row)).setConstant(std::numeric_limits<double>::quiet_NaN());
    --b.remaining;
  }

  void note_death(Slot& slot, const std::string& status) {
    if (slot.answered) return;
    ++deaths_without_answer;
    const std::size_t limit = ever_answered ? kDeathsAfterFirstAnswer : kDeathsBeforeFirstAnswer;
    if (deaths_without_answer >= limit)
      throw SimulationError("the external simulator `" + command_text + "` does not work: " +
                            std::to_string(deaths_without_answer) +
                            " worker processes in a row stopped before answering a single simulation; the last one " +
                            status + stderr_note(slot.process.stderr_tail()));
  }

  // Returns false if the worker was restarted (the rest of its output is void).
  bool handle_line(Batch& b, Slot& slot, const std::string& raw) {
    const std::string line = trim(raw);
    if (line.empty()) return true;
    slot.answered = true;
    ever_answered = true;
    deaths_without_answer = 0;
    if (!slot.busy) {  // a line nobody asked for: the worker is out of step
      surplus(b, slot);
      return false;
    }
    const std::size_t row = slot.row;
    slot.rows.push_back(row);
    const auto garbage = [&](const std::string& why) {
      slot.process.kill_now();
      fail(b, slot, "unexpected reply to " + theta_text(b, row) + ": " + quote_line(line) + " (" + why +
                        "); the worker was restarted");
      return false;
    };

    // parse_json_text bounds the nesting (a reply of a million '[' would overflow the stack).
    const auto parse = [](const std::string& text) {
      try {
        return parse_json_text(text, "reply");
      } catch (const InputError&) {
        return nlohmann::json(nlohmann::json::value_t::discarded);
      }
    };
    auto reply = parse(line);
    if (reply.is_discarded() && (line.find("NaN") != std::string::npos || line.find("Infinity") != std::string::npos))
      reply = parse(quote_non_finite_tokens(line));
    if (reply.is_discarded()) return garbage("not JSON; expected " + expected_reply());
    if (options.protocol == ExternalProtocol::object) {
      // The reply must carry the id of the request in flight: a stray or repeated line cannot be
      // taken for another θ's answer.
      if (!reply.is_object()) return garbage("expected " + expected_reply());
      const auto id = reply.find("id");
      if (id == reply.end()) return garbage("no \"id\"; expected " + expected_reply());
      if (!id->is_number_unsigned() || id->get<std::uint64_t>() != slot.request_id)
        return garbage("it carries the id " + printable(id->dump()) + ", the request in flight has the id " +
                       std::to_string(slot.request_id) + ": the worker is out of step");
      if (reply.contains("error")) {
        const auto& e = reply["error"];
        fail(b, slot, "the simulator reported an error for " + theta_text(b, row) + ": " +
                          printable(e.is_string() ? e.get<std::string>() : e.dump()));
        return true;
      }
      if (!reply.contains("y")) return garbage("no \"y\"; expected " + expected_reply());
      nlohmann::json values = reply["y"];
      reply = std::move(values);
    } else if (reply.is_object() && reply.contains("error")) {
      const auto& e = reply["error"];
      fail(b, slot, "the simulator reported an error for " + theta_text(b, row) + ": " +
                        printable(e.is_string() ? e.get<std::string>() : e.dump()));
      return true;
    }
    if (!reply.is_array()) return garbage("expected " + expected_reply());
    std::vector<double> values(reply.size());
    for (std::size_t i = 0; i < reply.size(); ++i) {
      const auto value = reply_value(reply[i]);
      if (!value)
        return garbage("value " + std::to_string(i + 1) + " is " + json_type_description(reply[i]) + ", not a number");
      values[i] = *value;
    }
    if (data_dim == 0) {
      if (reply.empty()) return garbage("an empty list");
      learn_data_dim(b, reply.size());
    }
    if (reply.size() != data_dim) {
      // A well-formed reply of the wrong length: the worker is in step, no restart. If it has never
      // answered with the right length, the declared dimension is probably wrong: say so once.
      fail(b, slot, "the reply to " + theta_text(b, row) + " has " + std::to_string(reply.size()) + " values, expected " +
                        std::to_string(data_dim) + ": " + quote_line(line));
      if (!ever_succeeded && ++wrong_lengths >= kWrongLengthsBeforeFirstSuccess)
        throw SimulationError("the external simulator `" + command_text + "` answers with " +
                              std::to_string(reply.size()) + " values, but " + std::to_string(data_dim) +
                              " are expected (from data_names or the observation), e.g. " + quote_line(line) +
                              " for " + theta_text(b, row));
      return true;
    }
    ever_succeeded = true;

    auto& y = *b.y;
    const auto r = static_cast<Eigen::Index>(row);
    for (std::size_t i = 0; i < data_dim; ++i) y(r, static_cast<Eigen::Index>(i)) = values[i];
    b.outcomes[row] = SimulationOutcome{};
    slot.busy = false;
    --b.remaining;
    return true;
  }

  void learn_data_dim(Batch& b, std::size_t d) {
    data_dim = d;
    if (info.data_names.empty()) info.data_names = default_data_names(d);
    // No row has succeeded yet (D was unknown), so nothing is lost.
    b.y->resize(b.theta->rows(), static_cast<Eigen::Index>(d));
    b.y->setConstant(std::numeric_limits<double>::quiet_NaN());
  }

  void handle_exit(Batch& b, Slot& slot) {
    const pid_t pid = slot.process.pid();
    const std::string status = slot.process.finish_after_eof(std::chrono::milliseconds(500));
    if (slot.busy)
      fail(b, slot, "the worker process (pid " + std::to_string(pid) + ") " + status + " while simulating " +
                        theta_text(b, slot.row) + "; it will be restarted" + stderr_note(slot.process.stderr_tail()));
    note_death(slot, status);
  }

  void handle_timeout(Batch& b, Slot& slot) {
    const pid_t pid = slot.process.pid();
    slot.process.read_stderr();
    std::vector<std::string> ignored;
    slot.process.read_stdout(ignored);  // nothing complete, or it would have been handled
    const std::string partial = slot.process.partial_line();
    const std::string tail = slot.process.stderr_tail();
    slot.process.kill_now();
    const double allowed = std::chrono::duration<double>(slot.deadline - slot.sent).count();
    const bool extended = allowed > options.timeout_s + 1e-3;
    std::string message = "no reply within " + format_seconds(std::round(allowed * 1000.0) / 1000.0) +
                          (extended ? " (timeout_s plus what was left of startup_timeout_s for a new worker)"
                                    : std::string()) +
                          " for " +
                          theta_text(b, slot.row) + ": the worker process (pid " + std::to_string(pid) +
                          ") was killed and will be restarted";
    if (!partial.empty())
      message += "; it had written " + quote_line(partial) + " without ending the line (answers must end with a newline and be flushed)";
    if (!trim(tail).empty()) message += stderr_note(tail);
    fail(b, slot, std::move(message));
    note_death(slot, "timed out");
  }

  void run(Batch& b) {
    const std::size_t n = b.outcomes.size();
    for (auto& slot : slots) slot->rows.clear();
    std::size_t next = 0;
    std::vector<pollfd> fds;
    std::vector<std::size_t> owner;  // slot of each pollfd
    std::vector<std::string> lines;
    while (b.remaining > 0) {
      for (auto& slot : slots)
        if (!slot->busy && next < n) dispatch(*slot, b, next++);

      fds.clear();
      owner.clear();
      auto wait = Clock::duration::max();
      const auto now = Clock::now();
      for (std::size_t s = 0; s < slots.size(); ++s) {
        auto& p = slots[s]->process;
        if (!p.running()) continue;
        if (p.stdout_fd() >= 0) fds.push_back({p.stdout_fd(), POLLIN, 0}), owner.push_back(s);
        if (p.stderr_fd() >= 0) fds.push_back({p.stderr_fd(), POLLIN, 0}), owner.push_back(s);
        if (p.has_pending_input() && p.stdin_fd() >= 0) fds.push_back({p.stdin_fd(), POLLOUT, 0}), owner.push_back(s);
        if (slots[s]->busy) wait = std::min(wait, slots[s]->deadline - now);
      }
      int timeout_ms = -1;
      if (wait != Clock::duration::max()) {
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(std::max(wait, Clock::duration::zero())).count();
        timeout_ms = static_cast<int>(std::min<long long>(ms, 1000 * 1000));
      }
      if (fds.empty()) {
        // Only possible if every busy worker lost all its pipes at once; let the deadline decide.
        std::this_thread::sleep_for(std::chrono::milliseconds(std::max(1, std::min(timeout_ms, 50))));
      } else if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
        throw SimulationError("external simulator: poll failed: " + std::string(std::strerror(errno)));
      }

      for (std::size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents == 0) continue;
        auto& slot = *slots[owner[k]];
        auto& p = slot.process;
        if (!p.running()) continue;
        const int fd = fds[k].fd;
        if (fd == p.stderr_fd()) {
          p.read_stderr();
        } else if (fd == p.stdin_fd()) {
          p.flush_input();
        } else if (fd == p.stdout_fd()) {
          p.read_stderr();  // keep the tail current for the messages below
          lines.clear();
          const bool open = p.read_stdout(lines);
          bool alive = true;
          for (const auto& line : lines)
            if (!(alive = handle_line(b, slot, line))) break;
          if (alive && !open) {
            handle_exit(b, slot);
          } else if (alive && p.partial_line().size() > kMaxLineBytes) {
            const std::string start = p.partial_line().substr(0, kQuotedLineLength);
            p.kill_now();
            if (slot.busy)
              fail(b, slot, "the reply to " + theta_text(b, slot.row) + " is longer than " +
                                std::to_string(kMaxLineBytes >> 20) + " MiB without a newline (it starts with " +
                                quote_line(start) + "); the worker was restarted");
          }
        }
      }

      const auto after = Clock::now();
      for (auto& slot : slots)
        if (slot->busy && slot->process.running() && after >= slot->deadline) handle_timeout(b, *slot);
      // A busy worker that vanished without our noticing end of file (cannot normally happen).
      for (auto& slot : slots)
        if (slot->busy && !slot->process.running())
          fail(b, *slot, "the worker process stopped while simulating " + theta_text(b, slot->row));
    }
    // Lines already written beyond the last reply: the worker answered more often than asked, so
    // (array protocol) its answers in this batch are void. Later stray lines are caught when the
    // worker is next given a request, but can no longer void this batch: use the object protocol
    // for simulators that may write stray lines.
    for (auto& slot : slots)
      if (has_surplus_output(*slot)) surplus(b, *slot);
  }
};

ExternalProcessSimulator::ExternalProcessSimulator(ExternalSimulatorOptions options, Names parameter_names,
                                                   std::size_t data_dim, nlohmann::json recorded_options)
    : state_(std::make_unique<State>()) {
  if (auto problem = options.validate(); !problem.empty()) throw InputError(problem);
  auto& s = *state_;
  if (!options.data_names.empty() && data_dim != 0 && options.data_names.size() != data_dim)
    throw InputError(options.path + ".data_names: " + std::to_string(options.data_names.size()) +
                     " names, but the data have " + std::to_string(data_dim) + " values");
  s.data_dim = options.data_names.empty() ? data_dim : options.data_names.size();
  s.info.name = "external:" + fs::path(options.command.front()).filename().string();
  s.info.parameter_names = std::move(parameter_names);
  s.info.data_names = options.data_names.empty() ? default_data_names(s.data_dim) : options.data_names;
  s.info.thread_safe = true;
  s.info.options = std::move(recorded_options);
  // How many workers and how long to wait change how, not what, is simulated: a table made with two
  // workers fits a run with eight.
  s.info.execution_option_keys = {"workers", "timeout_s", "startup_timeout_s"};
  s.launch.argv = options.command;
  s.launch.working_directory = options.working_directory;
  s.launch.environment = detail::worker_environment();
  s.command_text = command_text(options.command);
  s.options = std::move(options);
  for (int i = 0; i < s.options.workers; ++i) {
    s.slots.push_back(std::make_unique<Slot>(s.options.stderr_tail_bytes));
    s.start(*s.slots.back(), true);
  }
}

ExternalProcessSimulator::~ExternalProcessSimulator() {
  if (!state_) return;
  auto& slots = state_->slots;
  for (auto& slot : slots) slot->process.close_stdin();
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(state_->options.shutdown_grace_s));
  for (;;) {
    bool all_gone = true;
    for (auto& slot : slots) {
      if (!slot->process.running()) continue;
      if (slot->process.stdout_fd() >= 0) {  // never let a worker block on a full stdout pipe
        std::vector<std::string> ignored;
        slot->process.read_stdout(ignored);
      }
      if (slot->process.stderr_fd() >= 0) slot->process.read_stderr();
      if (!slot->process.try_reap()) all_gone = false;
    }
    if (all_gone || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& slot : slots) slot->process.kill_now();
}

const SimulatorInfo& ExternalProcessSimulator::info() const { return state_->info; }

const ExternalSimulatorOptions& ExternalProcessSimulator::options() const { return state_->options; }

std::size_t ExternalProcessSimulator::restarts() const {
  std::lock_guard lock(state_->mutex);
  return state_->restarts;
}

void ExternalProcessSimulator::simulate_batch(const RowMatrix& theta, RowMatrix& y,
                                              std::span<const std::uint64_t> stream_seeds,
                                              std::span<SimulationOutcome> outcomes) const {
  std::vector<std::uint64_t> indices(static_cast<std::size_t>(theta.rows()));
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  simulate_indexed(theta, y, stream_seeds, indices, outcomes);
}

void ExternalProcessSimulator::simulate_indexed(const RowMatrix& theta, RowMatrix& y,
                                                std::span<const std::uint64_t> stream_seeds,
                                                std::span<const std::uint64_t> indices,
                                                std::span<SimulationOutcome> outcomes) const {
  auto& s = *state_;
  const auto n = static_cast<std::size_t>(theta.rows());
  if (stream_seeds.size() != n || indices.size() != n || outcomes.size() != n)
    throw std::invalid_argument(s.info.name + ": simulate_batch needs one stream seed, index and outcome per row of θ");
  if (!s.info.parameter_names.empty() && static_cast<std::size_t>(theta.cols()) != s.info.parameter_dim())
    throw std::invalid_argument(s.info.name + ": θ has " + std::to_string(theta.cols()) + " columns, expected " +
                                std::to_string(s.info.parameter_dim()));

  std::lock_guard lock(s.mutex);
  if (y.rows() != theta.rows() || static_cast<std::size_t>(y.cols()) != s.data_dim)
    y.resize(theta.rows(), static_cast<Eigen::Index>(s.data_dim));
  y.setConstant(std::numeric_limits<double>::quiet_NaN());
  for (auto& o : outcomes) o = SimulationOutcome{SimulationStatus::failed, "not simulated"};
  if (n == 0) return;

  State::Batch batch;
  batch.theta = &theta;
  batch.y = &y;
  batch.seeds = stream_seeds;
  batch.indices = indices;
  batch.outcomes = outcomes;
  batch.remaining = n;
  try {
    s.run(batch);
  } catch (...) {
    // Workers with a simulation of this batch in flight are out of step: stop them.
    for (auto& slot : s.slots) {
      if (slot->busy) slot->process.kill_now();
      slot->busy = false;
    }
    throw;
  }
}

Simulator make_external_simulator(const nlohmann::json& section, const std::string& path,
                                  const Names& parameter_names, std::size_t data_dim_hint,
                                  const fs::path& base_directory) {
  auto options = parse_external_simulator_options(section, path, base_directory);
  if (!options.data_names.empty() && data_dim_hint != 0 && options.data_names.size() != data_dim_hint)
    throw InputError(path + ".data_names: " + std::to_string(options.data_names.size()) +
                     " names, but the observation has " + std::to_string(data_dim_hint) + " values");
  return Simulator(std::make_shared<const ExternalProcessSimulator>(std::move(options), parameter_names,
                                                                    data_dim_hint, section));
}

Simulator make_external_simulator(const nlohmann::json& section, const std::string& path, const Prior& prior,
                                  std::size_t data_dim_hint, const fs::path& base_directory) {
  auto simulator = make_external_simulator(section, path, prior.names(), data_dim_hint, base_directory);
  learn_data_dim(simulator, prior);
  return simulator;
}

void learn_data_dim(const Simulator& simulator, const Prior& prior, int max_attempts) {
  if (simulator.data_dim() != 0) return;
  constexpr std::uint64_t kProbeSeed = 0x70726f6265ULL;  // "probe"
  RowMatrix theta(1, static_cast<Eigen::Index>(prior.dim()));
  RowMatrix y;
  SimulationOutcome outcome;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    Rng rng = Rng::stream(kProbeSeed, static_cast<std::uint64_t>(attempt), 0);
    prior.sample(rng, row_span(theta, 0));
    const std::uint64_t seed = stream_seed(kProbeSeed, static_cast<std::uint64_t>(attempt), 1);
    y.resize(1, 0);
    simulator.simulate_batch(theta, y, {&seed, 1}, {&outcome, 1});
    if (simulator.data_dim() != 0) return;
  }
  throw SimulationError(simulator.name() + ": the number of simulator outputs is not known (no data_names, no " +
                        "observation) and " + std::to_string(max_attempts) +
                        " trial simulations at prior draws failed to tell it; the last one: " + outcome.message);
}

}  // namespace sbi::simulators
