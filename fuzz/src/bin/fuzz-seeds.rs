//! Writes the fuzz seeds into `DIR/<target>/<name>` (used by scripts/fuzz.sh).

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: fuzz-seeds DIR (seeds go to DIR/<target>/)");
    for (target, name, bytes) in slm_fuzz::seeds() {
        let out = std::path::Path::new(&dir).join(target);
        std::fs::create_dir_all(&out).expect("creating the seed directory");
        std::fs::write(out.join(name), bytes).expect("writing a seed");
    }
}
