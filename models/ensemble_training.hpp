#pragma once
// Training the K members of an ensemble (the spec's inference.ensemble; kind "ensemble",
// models/ensemble_posterior.hpp), on the threads of one process or over the ranks of an MPI job.
//
// Member k trains from seed stream_seed(seed, k, 0xe75e) whatever thread or rank runs it, under the
// checkpoint key "<key>-member-k"; the mixture is assembled from the members in index order.
//
// Alone (or not on rank 0's main thread): the members train on `input.threads` threads
// (parallel_for), each with input.threads threads of its own.
//
// Under MPI (sbi/parallel/cluster.hpp), called on rank 0's main thread, for a table method whose prior
// survives the trip through JSON: the members are a job of K indices, one member per chunk, handed to
// whichever rank asks next (rank 0 trains members too, on its compute thread). The job carries what a
// member trains from (the method's name and options, the prior, the table, the seed, the provenance),
// so a worker rank needs nothing but the same `sbi` build; a member's result is its saved posterior as
// bytes (posterior_to_bytes), and rank 0 assembles the mixture from them as it does alone: the saved
// posterior and its draws are the same bytes for any number of ranks and threads per rank.
//
// Checkpoints (sbi infer --resume) stay with rank 0, the only rank that writes in the run's folder.
// A member that has a checkpoint in rank 0's store is sent it with its chunk, and whichever rank
// trains the member continues from it. A worker keeps the checkpoints its members write in memory
// and drops them when the member is done: an interrupted run keeps only the checkpoints of the
// members rank 0 was training itself (the others start again on --resume, with the same result).
// The stop flag (Ctrl-C on rank 0) stops rank 0's own member and the handing out of members; members
// in flight on workers are finished (under mpirun a Ctrl-C ends every rank anyway). The members never
// handed out are then "trained" on rank 0 with the stop flag set, as they would be alone.
#include "sbi/inference/method.hpp"
#include "sbi/inference/posterior.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace sbi::models {

// One member's training: a method's train function for input.ensemble = 1.
using MemberTraining = std::function<Posterior(const TrainingInput&, const nlohmann::json& options, const TrainingCallbacks&)>;

// Trains input.ensemble ≥ 2 members of method `method` (a registered name: worker ranks find the
// method by it) with `train_member` and returns their mixture.
Posterior train_ensemble(const std::string& method, const MemberTraining& train_member, const TrainingInput& input,
                         const nlohmann::json& options, const TrainingCallbacks& callbacks);

// A posterior as one byte string (the files Posterior::save writes, with their relative paths), and
// back (load_posterior on those files). Goes through a private temporary folder, removed afterwards.
// posterior_from_bytes throws FileError for bytes that are not a saved posterior.
std::string posterior_to_bytes(const Posterior& posterior);
Posterior posterior_from_bytes(const std::string& bytes);

}  // namespace sbi::models
