/work/main/bench/latex-choice/target/release/deps/corpusminer_bench_latex_choice-7fe5456493da3923.d: src/main.rs

/work/main/bench/latex-choice/target/release/deps/corpusminer_bench_latex_choice-7fe5456493da3923: src/main.rs

src/main.rs:
