module deftrace.example/layoutprobe

go 1.19
