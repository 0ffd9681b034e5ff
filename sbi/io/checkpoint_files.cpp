#include "sbi/io/checkpoint_files.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"

#include <cctype>

namespace sbi {

std::filesystem::path DirectoryCheckpoints::file_for(const std::string& key) const {
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      throw std::invalid_argument("checkpoint key \"" + key + "\": letters, digits, '-' and '_' only");
  return folder_ / (key + ".ckpt");
}

std::optional<optim::TrainingCheckpoint> DirectoryCheckpoints::load(const std::string& key) const {
  const std::filesystem::path path = file_for(key);
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  return optim::TrainingCheckpoint::from_bytes(read_text_file(path), path.string());
}

void DirectoryCheckpoints::save(const std::string& key, const optim::TrainingCheckpoint& checkpoint) {
  const std::filesystem::path path = file_for(key);
  {
    std::lock_guard lock(mutex_);
    std::filesystem::create_directories(folder_);
  }
  write_file_atomically(path, checkpoint.to_bytes());
}

bool DirectoryCheckpoints::empty() const {
  std::error_code error;
  if (!std::filesystem::is_directory(folder_, error)) return true;
  for (const auto& entry : std::filesystem::directory_iterator(folder_, error))
    if (entry.path().extension() == ".ckpt") return false;
  return true;
}

void DirectoryCheckpoints::remove_all() const {
  std::error_code error;
  std::filesystem::remove_all(folder_, error);
}

}  // namespace sbi
