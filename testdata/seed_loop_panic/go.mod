module seed_loop_panic

go 1.15
