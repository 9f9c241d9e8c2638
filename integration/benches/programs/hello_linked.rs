//! The floor of start-up: a plain `main` whose binary links the crate as
//! `hello_graceful` does, the same `#[graceful_main]` in it, but never runs
//! any of it. Its start-up is what the binary's weight alone costs (its
//! relocations, its pages), with none of our code run: the least this
//! crate's `#[graceful_main]` can cost.
mod inner {
    #[cleanup::graceful_main]
    pub fn main() {}
}

pub(crate) fn main() {
    // Never true, but the optimizer cannot know it: `inner::main` and all
    // it reaches stay in the binary.
    if std::hint::black_box(false) {
        inner::main();
    }
}
