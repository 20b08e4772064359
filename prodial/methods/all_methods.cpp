// all_methods.cpp: registers the built-in methods listed in method_list.h, in that order. An explicit
// list (rather than static registration objects) keeps every method linked from a static library.
#include "prodial/registry.h"

namespace prodial {

void register_builtin_method(MethodSpec spec);  // registry.cpp

// Declarations: MethodSpec prodial_method(); ...
#define PM_PEFT_METHOD(f) MethodSpec f();
#include "prodial/methods/method_list.h"
#undef PM_PEFT_METHOD

void register_builtin_methods() {
#define PM_PEFT_METHOD(f) register_builtin_method(f());
#include "prodial/methods/method_list.h"
#undef PM_PEFT_METHOD
}

}  // namespace prodial
