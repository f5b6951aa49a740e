module osexit

go 1.19
