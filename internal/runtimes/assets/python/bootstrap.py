# lambdad's Python runtime. The code lives in lambdad_runtime.py: a module's
# compiled bytecode is cached (lambdad compiles it ahead), a script's is not.
import lambdad_runtime

lambdad_runtime.main()
