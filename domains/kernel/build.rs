// The migrations are embedded in the binary; rebuild when any of them changes,
// including when a new one is added.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
