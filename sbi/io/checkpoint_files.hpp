#pragma once
// Training checkpoints kept as files in one folder: <folder>/<key>.ckpt, each written to a fresh
// temporary file and renamed into place, so a crash mid-write leaves the previous checkpoint intact.
//
//   sbi::DirectoryCheckpoints store(out / "checkpoints");
//   callbacks.checkpoints = &store;      // sbi/optim/checkpoint.hpp
#include "sbi/optim/checkpoint.hpp"

#include <filesystem>
#include <mutex>

namespace sbi {

class DirectoryCheckpoints : public CheckpointStore {
 public:
  explicit DirectoryCheckpoints(std::filesystem::path folder) : folder_(std::move(folder)) {}

  // Throws InputError naming the file when it is damaged.
  std::optional<optim::TrainingCheckpoint> load(const std::string& key) const override;
  // Creates the folder when needed.
  void save(const std::string& key, const optim::TrainingCheckpoint& checkpoint) override;

  const std::filesystem::path& folder() const { return folder_; }
  bool empty() const;        // no checkpoint file in the folder (or no folder)
  void remove_all() const;   // the folder and its checkpoints (when training has finished)

 private:
  std::filesystem::path file_for(const std::string& key) const;
  std::filesystem::path folder_;
  mutable std::mutex mutex_;  // creating the folder
};

}  // namespace sbi
