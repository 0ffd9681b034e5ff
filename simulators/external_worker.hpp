#pragma once
// Private helper of simulators/external_process.cpp: one child process with pipes on its stdin,
// stdout and stderr (POSIX). Not part of the public interface; include external_process.hpp.
//
// The child runs in its own process group, so that killing it also kills anything it started
// (a shell wrapper, a pyenv shim, a subprocess), and so that Ctrl-C in a terminal reaches only
// our process, which then shuts the workers down itself.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace sbi::simulators::detail {

struct LaunchSpec {
  std::vector<std::string> argv;           // argv[0] is looked up on PATH unless it has a '/'
  std::filesystem::path working_directory;  // empty = inherit ours
  std::vector<std::string> environment;     // complete "KEY=value" list for the child
};

// The process environment plus PYTHONUNBUFFERED=1 (unless already set), so that Python
// simulators that forget to flush their stdout still answer line by line.
std::vector<std::string> worker_environment();

// "exited with status 3", "was killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

class WorkerProcess {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WorkerProcess(std::size_t stderr_tail_bytes = 2048) : tail_limit_(stderr_tail_bytes) {}
  ~WorkerProcess();  // kills and reaps the child if it is still there
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Starts the child. Returns an empty string on success, else why it could not be started
  // (e.g. "No such file or directory"); the pipes are then closed.
  std::string start(const LaunchSpec& spec);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }

  // Queues text for the child's stdin and writes as much as the pipe takes now.
  // Returns false if the child's stdin is closed (it has exited or closed it).
  bool send(const std::string& text);
  bool has_pending_input() const { return !pending_input_.empty(); }
  // Writes more of the queued text (call on POLLOUT). False if the pipe is broken.
  bool flush_input();

  // Reads what stdout has now and appends complete lines (without '\n' and a trailing '\r') to
  // `lines`. Returns false once stdout has reached end of file.
  bool read_stdout(std::vector<std::string>& lines);
  // True if stdout holds unread bytes (or a partial line) right now.
  bool has_unread_output();
  // Reads what stderr has now into the tail. Returns false at end of file.
  bool read_stderr();
  const std::string& stderr_tail() const { return stderr_tail_; }
  // Output after the last newline (a reply the worker has not finished or not terminated).
  const std::string& partial_line() const { return partial_line_; }

  // After stdout has reached end of file: waits up to `grace` for the child to exit by itself
  // (collecting its stderr), then kills its process group; reaps it. Returns the exit description.
  std::string finish_after_eof(std::chrono::milliseconds grace);
  // Kills the process group at once and reaps the child. Returns the exit description.
  std::string kill_now();
  // Closes the child's stdin (the polite way to ask it to stop).
  void close_stdin();
  // True if the child has exited (it is not reaped: call finish_after_eof or try_reap).
  bool exited() const;
  // True (and reaps it, after killing what is left of its group) if the child has exited.
  bool try_reap();

 private:
  void close_fds();
  void append_stderr(const char* data, std::size_t size);
  std::string reap_blocking();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string pending_input_;
  std::string partial_line_;
  std::string stderr_tail_;
  std::size_t tail_limit_;
};

}  // namespace sbi::simulators::detail
