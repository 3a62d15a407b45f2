//! The integration harness: named cases over one shared world (the runtimes a suite starts),
//! run with the standard test CLI by libtest-mimic, and the load helper the limit tests share.

use std::sync::Arc;

use libtest_mimic::Failed;

/// A named integration case over a shared world (the runtimes it started).
pub type Case<W> = (&'static str, fn(&W) -> Result<(), Failed>);

/// The table of a suite's cases, each a function named after what it shows:
/// `cases![a, b]` is `[("a", a), ("b", b)]`.
#[macro_export]
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        &[$((stringify!($case), $case)),*]
    };
}

/// Runs `cases` against `world` with the standard test CLI, then drops the world, which stops
/// every runtime and origin in it, whatever the cases did.
pub fn run_cases<W: Send + Sync + 'static>(
    world: W,
    cases: &'static [Case<W>],
) -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let world = Arc::new(world);
    let trials = cases
        .iter()
        .map(|&(name, case)| {
            let world = world.clone();
            libtest_mimic::Trial::test(name, move || case(&world))
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // The trials held the other references; this drop stops the runtimes.
    drop(world);
    conclusion.exit_code()
}

/// `clients` threads at once, each making `per_client` calls of `request(client, i)` in turn;
/// every status, all together (how the limit tests load a key).
pub fn fan_out<F>(clients: usize, per_client: usize, request: F) -> Vec<u16>
where
    F: Fn(usize, usize) -> u16 + Sync,
{
    std::thread::scope(|s| {
        let request = &request;
        let handles: Vec<_> = (0..clients)
            .map(|c| s.spawn(move || (0..per_client).map(|i| request(c, i)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}
