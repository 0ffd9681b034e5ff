#include "simulators/external_worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;

namespace sbi::simulators::detail {

namespace {

std::string error_text(int code) { return std::error_code(code, std::generic_category()).message(); }

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

bool set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// Blocks SIGPIPE in this thread while it writes to a pipe whose reader may be gone, so that a
// dead worker gives EPIPE instead of killing the whole program; a SIGPIPE raised meanwhile is
// consumed before the old mask comes back.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_mask_);
  }
  ~SigpipeBlock() {
    if (raised_ && !was_pending_) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_set_, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  void note_epipe() { raised_ = true; }

 private:
  sigset_t pipe_set_;
  sigset_t old_mask_;
  bool was_pending_ = false;
  bool raised_ = false;
};

// True if the child has exited (without reaping it, so that its process id, which is also its
// process-group id, stays reserved until we have killed the rest of the group).
bool has_exited(pid_t pid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1) {
    if (errno != EINTR) return true;  // ECHILD: nothing left to wait for
  }
  return info.si_pid == pid;
}

}  // namespace

std::vector<std::string> worker_environment() {
  std::vector<std::string> env;
  bool has_unbuffered = false;
  for (char** entry = environ; entry && *entry; ++entry) {
    env.emplace_back(*entry);
    if (env.back().rfind("PYTHONUNBUFFERED=", 0) == 0) has_unbuffered = true;
  }
  if (!has_unbuffered) env.emplace_back("PYTHONUNBUFFERED=1");
  return env;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char* name = sigdescr_np(sig);
#else
    const char* name = ::strsignal(sig);
#endif
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : std::string());
  }
  return "stopped with wait status " + std::to_string(status);
}

WorkerProcess::~WorkerProcess() {
  if (running()) kill_now();
  close_fds();
}

void WorkerProcess::close_fds() {
  close_fd(stdin_fd_);
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
}

std::string WorkerProcess::start(const LaunchSpec& spec) {
  if (running()) kill_now();
  close_fds();
  pending_input_.clear();
  partial_line_.clear();
  stderr_tail_.clear();
  if (spec.argv.empty()) return "empty command";

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    const int code = errno;
    for (int* p : {in, out, err}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
    return "cannot create pipes: " + error_text(code);
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  if (!spec.working_directory.empty())
    posix_spawn_file_actions_addchdir_np(&actions, spec.working_directory.c_str());

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  posix_spawnattr_setsigmask(&attributes, &empty_mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attributes, &defaults);

  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(),
                                spec.environment.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  stderr_fd_ = err[0];
  if (rc != 0) {
    close_fds();
    return error_text(rc);
  }
  pid_ = pid;
  set_nonblocking(stdin_fd_);
  set_nonblocking(stdout_fd_);
  set_nonblocking(stderr_fd_);
  return {};
}

bool WorkerProcess::send(const std::string& text) {
  pending_input_ += text;
  return flush_input();
}

bool WorkerProcess::flush_input() {
  if (pending_input_.empty()) return true;
  if (stdin_fd_ < 0) return false;
  SigpipeBlock block;
  std::size_t written = 0;
  bool ok = true;
  while (written < pending_input_.size()) {
    const ssize_t n = ::write(stdin_fd_, pending_input_.data() + written, pending_input_.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      if (errno == EPIPE) block.note_epipe();
      ok = false;
      break;
    }
  }
  pending_input_.erase(0, written);
  if (!ok) {
    pending_input_.clear();
    close_fd(stdin_fd_);
  }
  return ok;
}

bool WorkerProcess::read_stdout(std::vector<std::string>& lines) {
  if (stdout_fd_ < 0) return false;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
    if (n > 0) {
      std::size_t begin = 0;
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        if (buffer[i] != '\n') continue;
        partial_line_.append(buffer + begin, i - begin);
        if (!partial_line_.empty() && partial_line_.back() == '\r') partial_line_.pop_back();
        lines.push_back(std::move(partial_line_));
        partial_line_.clear();
        begin = i + 1;
      }
      partial_line_.append(buffer + begin, static_cast<std::size_t>(n) - begin);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    // End of file (or a read error, which we treat the same way): a last unterminated line
    // still counts as a line.
    if (!partial_line_.empty()) {
      lines.push_back(std::move(partial_line_));
      partial_line_.clear();
    }
    close_fd(stdout_fd_);
    return false;
  }
}

bool WorkerProcess::has_unread_output() {
  if (!partial_line_.empty()) return true;
  if (stdout_fd_ < 0) return false;
  pollfd p{stdout_fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void WorkerProcess::append_stderr(const char* data, std::size_t size) {
  stderr_tail_.append(data, size);
  if (stderr_tail_.size() > tail_limit_) {
    std::size_t cut = stderr_tail_.size() - tail_limit_;
    // Do not start the tail in the middle of a UTF-8 character.
    while (cut < stderr_tail_.size() && (static_cast<unsigned char>(stderr_tail_[cut]) & 0xC0) == 0x80) ++cut;
    stderr_tail_.erase(0, cut);
  }
}

bool WorkerProcess::read_stderr() {
  if (stderr_fd_ < 0) return false;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(stderr_fd_, buffer, sizeof buffer);
    if (n > 0) {
      append_stderr(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    close_fd(stderr_fd_);
    return false;
  }
}

void WorkerProcess::close_stdin() {
  pending_input_.clear();
  close_fd(stdin_fd_);
}

std::string WorkerProcess::reap_blocking() {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r == -1 && errno == EINTR);
  pid_ = -1;
  close_fds();
  pending_input_.clear();
  partial_line_.clear();
  return r == -1 ? std::string("has gone (it could not be waited for)") : describe_wait_status(status);
}

std::string WorkerProcess::finish_after_eof(std::chrono::milliseconds grace) {
  if (!running()) return {};
  const auto deadline = Clock::now() + grace;
  while (!has_exited(pid_) && Clock::now() < deadline) {
    if (stderr_fd_ >= 0) {
      pollfd p{stderr_fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) > 0) read_stderr();
    } else {
      ::usleep(5000);
    }
  }
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  // Collect what the group wrote to stderr before it went (a short wait: a process outside the
  // group may still hold the pipe open).
  const auto drain_deadline = Clock::now() + std::chrono::milliseconds(200);
  while (stderr_fd_ >= 0 && Clock::now() < drain_deadline) {
    pollfd p{stderr_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) > 0 && !read_stderr()) break;
  }
  return reap_blocking();
}

std::string WorkerProcess::kill_now() {
  if (!running()) return {};
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  if (stderr_fd_ >= 0) read_stderr();
  return reap_blocking();
}

bool WorkerProcess::exited() const { return running() && has_exited(pid_); }

bool WorkerProcess::try_reap() {
  if (!running()) return true;
  if (!has_exited(pid_)) return false;
  ::kill(-pid_, SIGKILL);
  if (stderr_fd_ >= 0) read_stderr();
  reap_blocking();
  return true;
}

}  // namespace sbi::simulators::detail
