# api/params: request target routing and keys API parameter parsing (pure, no h2o).
add_library(et_api_params STATIC ${CMAKE_CURRENT_LIST_DIR}/params.c)
target_link_libraries(et_api_params PUBLIC et_core)
