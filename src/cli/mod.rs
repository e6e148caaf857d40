//! The command line: clap arguments → validated specifications → a run.

pub mod adapters;
pub mod basins;
pub mod bench;
pub mod boundary;
pub mod common;
pub mod connect;
pub mod demo;
pub mod graph;
pub mod grid;
pub mod map;
pub mod merge;
pub mod shard;
pub mod stopped;
pub mod walk;

use clap::{Parser, Subcommand};

/// Maps the loss landscape of small neural networks trained with mean-squared error.
#[derive(Debug, Parser)]
#[command(name = "landscape", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: answer "how can MSE have many minima?" with pictures and numbers, in a report.
    Demo(demo::DemoArgs),
    /// Evaluate L and ∇L at every point of a 1- to 4-dimensional lattice through parameter space.
    Grid(grid::GridArgs),
    /// Run many gradient-descent walkers in parallel and record where each one ends.
    Walk(walk::WalkArgs),
    /// Draw a basin map: one walker per point of a 2-D slice, coloured by where it ends.
    Map(map::MapArgs),
    /// The boundary statistics of a map (box-counting dimension, uncertainty exponent, basin entropies) into boundary.json.
    Boundary(boundary::BoundaryArgs),
    /// Join the shards of a grid, walk or map (--shard i/N) into the whole run, byte for byte, then analyse it.
    Merge(merge::MergeArgs),
    /// (Re)analyse a walk: polish, classify with the exact Hessian, group into classes under symmetry.
    Basins(basins::BasinsArgs),
    /// The minimum-energy path between two minima: transition states refined with the exact Hessian and confirmed by push-offs.
    Connect(connect::ConnectArgs),
    /// Draw the disconnectivity graph of the minima and transition states of runs (or of plain arrays).
    Graph(graph::GraphArgs),
    /// Time the standard workloads on every available backend and check that the backends agree.
    Bench(bench::BenchArgs),
    /// List the GPU adapters wgpu can see (for --adapter).
    Adapters,
}

/// Runs a parsed command line. `explicit` are the ids of the subcommand's arguments given on the
/// command line (not defaulted), for `--config` and `--resume`.
pub fn run(cli: Cli, explicit: &[String]) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Grid(args) => grid::run(args, explicit),
        Command::Walk(args) => walk::run(args, explicit),
        Command::Basins(args) => basins::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Boundary(args) => boundary::run(args),
        Command::Map(args) => map::run(args, explicit),
        Command::Connect(args) => connect::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Adapters => adapters::run(),
    }
}

/// The ids of the subcommand's arguments that were given on the command line.
pub fn explicit_arguments(matches: &clap::ArgMatches) -> Vec<String> {
    use clap::CommandFactory;
    let Some((name, sub)) = matches.subcommand() else {
        return Vec::new();
    };
    let command = Cli::command();
    let Some(definition) = command.find_subcommand(name) else {
        return Vec::new();
    };
    // Argument groups (one per flattened struct) have ids too: keep the arguments.
    definition
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| sub.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(str::to_string)
        .collect()
}
