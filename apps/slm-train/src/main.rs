//! `slm-train`: the command line for building the model — prepare data, train
//! the tokenizer, download the dataset, and (in their own modules) train,
//! evaluate and export. This file only parses arguments and dispatches.

mod alloc;
mod bench_tokenize;
mod bench_train;
mod byte_size;
mod chat_eval;
mod device;
mod download;
mod eval;
mod export;
mod gguf;
mod instruct;
mod phrasings;
mod prepare;
mod sample_quality;
mod shards;
mod tokenizer;
mod train;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "slm-train",
    version,
    about = "Build the slm TinyStories model: data, tokenizer, training"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Clean corpora, train (or reuse) the tokenizer and write token shards.
    Prepare(prepare::Args),
    /// Train only the tokenizer and write tokenizer.json.
    Tokenizer(tokenizer::Args),
    /// Download TinyStories from the Hugging Face Hub (resumable, checksummed).
    Download(download::Args),
    /// Measure tokenization throughput on a corpus file; prints JSON.
    BenchTokenize(bench_tokenize::Args),
    /// Train a model from a TOML run config (see configs/ and docs/training.md).
    Train(train::TrainArgs),
    /// Evaluate a model directory on prepared shards; prints one JSON line.
    Eval(eval::EvalArgs),
    /// Write a model directory (Hugging Face layout) from a training checkpoint, or a GGUF
    /// file for llama.cpp from a model directory.
    Export(export::ExportArgs),
    /// Measure training throughput (tokens/s) of the 15M config; prints JSON.
    BenchTrain(bench_train::BenchTrainArgs),
    /// Sample fixed prompts × seeds and measure loops and n-gram diversity; prints JSON.
    SampleQuality(sample_quality::Args),
    /// Ask for stories (held-out requests) and measure how well replies follow them; JSON.
    ChatEval(chat_eval::Args),
}

fn main() -> anyhow::Result<()> {
    slm_observe::init_logging("info");
    alloc::tune_for_training();
    match Cli::parse().command {
        Command::Prepare(args) => prepare::run(args),
        Command::Tokenizer(args) => tokenizer::run(args),
        Command::Download(args) => download::run(args),
        Command::BenchTokenize(args) => bench_tokenize::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Export(args) => export::run(args),
        Command::BenchTrain(args) => bench_train::run(args),
        Command::SampleQuality(args) => sample_quality::run(args),
        Command::ChatEval(args) => chat_eval::run(args),
    }
}
