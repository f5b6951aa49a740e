module preempt

go 1.15
