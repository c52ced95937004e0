#!/usr/bin/env node
import "../gateway/main.ts";
