kernia_unit_test(tst_store tst_store.cpp)
