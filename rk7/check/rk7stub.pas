{ The RK7 script host as ../../RK7.md (and the project's README) describe it, for a compile check
  of the scripts with Free Pascal in Delphi mode: syntax, types, sets, string kinds and every
  identifier a script uses. Nothing here runs at a till.

  RK7.md gives the HTTP object's signatures; it names the GUI dialogs (GUI.ShowMessage,
  GUI.RKMessageDlg, input dialogs), RkCheck.Valid and RK7.PerformMcrAlgorith(Data, DeviceID)
  without theirs. For those, the declarations below are what the scripts assume: RKMessageDlg
  as Delphi's MessageDlg (a set of buttons, an mrXxx answer), InputBox as caption, prompt,
  default text and whether to show the numeric keypad. }
unit rk7stub;

{$mode delphiunicode}
{$codepage utf8}

interface

uses
  SysUtils, Classes;

type
  TMsgDlgType = (mtWarning, mtError, mtInformation, mtConfirmation, mtCustom);
  TMsgDlgBtn = (mbYes, mbNo, mbOK, mbCancel, mbAbort, mbRetry, mbIgnore, mbAll, mbNoToAll,
    mbYesToAll, mbHelp);
  TMsgDlgButtons = set of TMsgDlgBtn;

const
  mrNone = 0;
  mrOk = 1;
  mrCancel = 2;
  mrAbort = 3;
  mrRetry = 4;
  mrIgnore = 5;
  mrYes = 6;
  mrNo = 7;

type
  { The scripts' global HTTP object (RK7 >= 7.06.05.441 / 7.07.00.002); all strings UTF-8;
    the answer of Get and Post is the HTTP status. }
  TRk7Http = class
  public
    UserName, Password, ContentType, Charset: utf8string;
    function Get(const AUrl: utf8string; var ResultText: utf8string): Integer;
    function Post(const AUrl, APostText: utf8string; var ResultText: utf8string): Integer;
    procedure ClearHeaders;
    procedure AddHeader(const AHeader, AValue: utf8string);
    function GetLastError: utf8string;
  end;

  TRk7Gui = class
  public
    procedure ShowMessage(const Msg: string);
    function RKMessageDlg(const Msg: string; DlgType: TMsgDlgType; Buttons: TMsgDlgButtons;
      HelpCtx: Longint): Integer;
    function InputBox(const Caption, Prompt, Default: string; NumPad: boolean): string;
  end;

  TRk7Check = class
  public
    Valid: boolean;
  end;

  TRk7 = class
  public
    function PerformMcrAlgorith(const Data: string; DeviceID: integer): boolean;
  end;

var
  HTTP: TRk7Http;
  GUI: TRk7Gui;
  RKCheck: TRk7Check;
  RK7: TRk7;

implementation

function TRk7Http.Get(const AUrl: utf8string; var ResultText: utf8string): Integer;
begin
  ResultText := '';
  Result := 0;
end;

function TRk7Http.Post(const AUrl, APostText: utf8string; var ResultText: utf8string): Integer;
begin
  ResultText := '';
  Result := 0;
end;

procedure TRk7Http.ClearHeaders;
begin
end;

procedure TRk7Http.AddHeader(const AHeader, AValue: utf8string);
begin
end;

function TRk7Http.GetLastError: utf8string;
begin
  Result := '';
end;

procedure TRk7Gui.ShowMessage(const Msg: string);
begin
end;

function TRk7Gui.RKMessageDlg(const Msg: string; DlgType: TMsgDlgType; Buttons: TMsgDlgButtons;
  HelpCtx: Longint): Integer;
begin
  Result := mrNo;
end;

function TRk7Gui.InputBox(const Caption, Prompt, Default: string; NumPad: boolean): string;
begin
  Result := Default;
end;

function TRk7.PerformMcrAlgorith(const Data: string; DeviceID: integer): boolean;
begin
  Result := false;
end;

end.
