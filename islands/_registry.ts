/**
 * Every island by name: the server marks an island with its name, the client hydrates it with
 * the component registered here.
 * @module
 */
import type { ComponentType } from "preact";
import ConfirmForm from "./ConfirmForm.tsx";
import CopyButton from "./CopyButton.tsx";
import DeletionProgress from "./DeletionProgress.tsx";
import EventLog from "./EventLog.tsx";
import LiveUpdates from "./LiveUpdates.tsx";
import ReapplyProgress from "./ReapplyProgress.tsx";
import TokenCreate from "./TokenCreate.tsx";

/** Island components by name. */
export const ISLANDS: Record<string, ComponentType<never>> = {
  ConfirmForm,
  CopyButton,
  DeletionProgress,
  EventLog,
  LiveUpdates,
  ReapplyProgress,
  TokenCreate,
};
