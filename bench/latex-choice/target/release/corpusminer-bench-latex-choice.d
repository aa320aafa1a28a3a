/work/main/bench/latex-choice/target/release/corpusminer-bench-latex-choice: /work/main/bench/latex-choice/src/main.rs
