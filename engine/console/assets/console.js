/* weir console script (owned by the console UI; embedded in the binary). */
'use strict';
