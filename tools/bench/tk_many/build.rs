// Generates N spawn sites, each spawning a distinct future type (a const
// generic), so the binary carries N copies of tokio's raw::poll & co.
use std::io::Write;

fn main() {
    let n: usize = std::env::var("TK_MANY_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!("cargo:rerun-if-env-changed=TK_MANY_TASKS");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("spawns.rs");
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    writeln!(f, "pub const TASK_TYPES: usize = {n};").unwrap();
    writeln!(f, "pub fn spawn_all(h: &mut Vec<tokio::task::JoinHandle<usize>>) {{").unwrap();
    for i in 0..n {
        writeln!(f, "    h.push(tokio::spawn(crate::work::<{i}>()));").unwrap();
    }
    writeln!(f, "}}").unwrap();
}
