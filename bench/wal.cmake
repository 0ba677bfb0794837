# etcetera-walbench: durable appends per second through the node's group commit versus one
# fdatasync per write, and pwrite+fdatasync versus io_uring for the WAL's batch sync. Its source
# lives in raft/ because it links the raft module, which bench/ sources may not include.
add_executable(etcetera-walbench ${CMAKE_SOURCE_DIR}/raft/walbench.c)
target_link_libraries(etcetera-walbench PRIVATE et_raft)
et_program(etcetera-walbench)
