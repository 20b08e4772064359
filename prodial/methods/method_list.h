// method_list.h: the built-in PEFT methods, one line each: PM_PEFT_METHOD(f) names the function
// `MethodSpec f()` that a file in prodial/methods/ defines. Adding a method = its file + one line here.
// (Included by all_methods.cpp only, twice, with different definitions of PM_PEFT_METHOD.)
PM_PEFT_METHOD(prodial_method)     // prodial.cpp
PM_PEFT_METHOD(lora_method)        // lora.cpp
PM_PEFT_METHOD(dora_method)        // dora.cpp
PM_PEFT_METHOD(full_method)        // selective.cpp: the paper's baselines, full fine-tuning ...
PM_PEFT_METHOD(head_method)        // ... head only (linear probe)
PM_PEFT_METHOD(ssm_method)         // ... SSM parameters only
PM_PEFT_METHOD(in_proj_method)     // ... in_proj only
PM_PEFT_METHOD(out_proj_method)    // ... out_proj only
PM_PEFT_METHOD(both_proj_method)   // ... both projectors
